-- On-call overrides and swaps: person holds team's layer from starts_at
-- until ends_at, winning over the rotation once accepted (an override at
-- once, a swap when the person taking it over accepts).
CREATE TABLE oncall_overrides (
    id bigserial PRIMARY KEY,
    team character varying(64) NOT NULL,
    layer character varying(64) NOT NULL,
    person character varying(128) NOT NULL,
    starts_at timestamp with time zone NOT NULL,
    ends_at timestamp with time zone NOT NULL,
    kind character varying(16) NOT NULL,
    swap_from character varying(128),
    created_by character varying(128) NOT NULL,
    created_at timestamp with time zone NOT NULL,
    accepted_at timestamp with time zone
);
CREATE INDEX idx_oncall_overrides_team_ends ON oncall_overrides USING btree (team, ends_at);
