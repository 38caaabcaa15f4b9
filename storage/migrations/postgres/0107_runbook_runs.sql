-- Runbook runs: one /run request from its approvals to its end. Output is
-- the masked tail the owner streams into the request's thread.
CREATE TABLE runbook_runs (
    id bigserial PRIMARY KEY,
    runbook character varying(128) NOT NULL,
    state character varying(16) NOT NULL,
    requested_by character varying(128) NOT NULL,
    params text NOT NULL,
    approved_by text NOT NULL DEFAULT '',
    decided_by character varying(128) NOT NULL DEFAULT '',
    owner character varying(255) NOT NULL DEFAULT '',
    heartbeat_at timestamp with time zone,
    created_at timestamp with time zone NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    exit_code bigint,
    error text NOT NULL DEFAULT '',
    output text NOT NULL DEFAULT '',
    output_bytes bigint NOT NULL DEFAULT 0,
    cancel_by character varying(128) NOT NULL DEFAULT ''
);
CREATE INDEX idx_runbook_runs_runbook_state ON runbook_runs USING btree (runbook, state);
CREATE INDEX idx_runbook_runs_state ON runbook_runs USING btree (state);
