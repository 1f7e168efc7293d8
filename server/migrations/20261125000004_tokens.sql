-- API tokens. Only a SHA-256 of the secret is stored; the id is the public prefix.
CREATE TABLE api_tokens (
    id            text PRIMARY KEY CHECK (id ~ '^[a-z0-9]{12}$'),
    secret_hash   bytea NOT NULL,
    role          text NOT NULL CHECK (role IN ('VIEWER', 'EDITOR', 'ADMIN')),
    description   text NOT NULL,
    creator       text NOT NULL,
    create_time   timestamptz NOT NULL DEFAULT now(),
    expire_time   timestamptz,
    revoke_time   timestamptz,
    last_use_time timestamptz
);
