-- Leadership terms: the leader bumps term when it takes the advisory lock,
-- and every write of scheduled work reads it FOR SHARE and is refused when
-- it was started under an older term (see storage/fence.go).
CREATE TABLE leader_terms (
    id integer PRIMARY KEY,
    term bigint NOT NULL,
    holder character varying(128) NOT NULL DEFAULT '',
    started_at timestamp with time zone
);
INSERT INTO leader_terms (id, term) VALUES (1, 0);
