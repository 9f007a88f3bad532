-- +goose Up
CREATE TABLE entries (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE entries;
