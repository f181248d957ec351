"""Neural-network building blocks of the Chromatic Graph Transformer."""
