-- pgvector: the vector type and its index methods (HNSW, IVFFlat).
CREATE EXTENSION IF NOT EXISTS vector;
