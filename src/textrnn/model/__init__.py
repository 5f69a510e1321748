"""The networks: the recurrent classifier (and an ensemble of them), and the language model for pretraining."""
