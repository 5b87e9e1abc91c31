-- The source-of-truth store for retrieval: documents and their embeddings.
CREATE SCHEMA IF NOT EXISTS estate;

CREATE TABLE IF NOT EXISTS estate.documents (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant      text        NOT NULL,
    source_uri  text        NOT NULL,
    content     text        NOT NULL,
    metadata    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    embedding   vector(768) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, source_uri)
);

CREATE INDEX IF NOT EXISTS documents_embedding_hnsw
    ON estate.documents USING hnsw (embedding vector_cosine_ops);
CREATE INDEX IF NOT EXISTS documents_tenant ON estate.documents (tenant);
