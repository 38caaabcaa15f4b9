-- Port changes: /device port sets a switch port's ifAdminStatus for a
-- while; at expires_at the leader sets it back to previous.
CREATE TABLE port_changes (
    id bigserial PRIMARY KEY,
    device character varying(128) NOT NULL,
    if_index bigint NOT NULL,
    port character varying(255) NOT NULL,
    action character varying(8) NOT NULL,
    previous character varying(8) NOT NULL,
    state character varying(16) NOT NULL,
    requested_by character varying(128) NOT NULL,
    reason text NOT NULL DEFAULT '',
    duration_s bigint NOT NULL,
    approved_by text NOT NULL DEFAULT '',
    created_at timestamp with time zone NOT NULL,
    applied_at timestamp with time zone,
    expires_at timestamp with time zone,
    reverted_at timestamp with time zone,
    error text NOT NULL DEFAULT '',
    attempts bigint NOT NULL DEFAULT 0,
    next_attempt_at timestamp with time zone
);
CREATE INDEX idx_port_changes_state_expires ON port_changes USING btree (state, expires_at);
