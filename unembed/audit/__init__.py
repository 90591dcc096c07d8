"""Audit & defend: how much a store of vectors leaks, and what each defence costs."""
