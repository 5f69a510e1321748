"""Data: tables, AG News, Hugging Face datasets and streams, all read with the same row checks."""
