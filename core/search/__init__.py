"""Search: embeddings (and, as they land, chunking, indexes and hybrid retrieval)."""
