-- Leadership terms. SQLite has one serving process, so nothing bumps or
-- reads this table there; it exists so both dialects hold the same schema.
CREATE TABLE leader_terms (
    id integer PRIMARY KEY,
    term integer NOT NULL,
    holder text NOT NULL DEFAULT '',
    started_at datetime
);
INSERT INTO leader_terms (id, term) VALUES (1, 0);
