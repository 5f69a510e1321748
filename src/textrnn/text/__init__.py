"""Text to token ids: the vectorizer (HF tokenizers stages saved as JSON), batching, word vectors."""
