"""Vector backends behind one interface; the chunks table is the truth they are synced from."""
