"""Adapters for the frameworks users already run (optional extras): LangChain."""
