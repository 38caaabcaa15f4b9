-- Onboarding and offboarding checklists: one open checklist per person and
-- kind, and one item per step of its template, keyed by the step so that
-- running a checklist again resumes it and never does a step twice.
CREATE TABLE checklists (
    id bigserial PRIMARY KEY,
    kind character varying(16) NOT NULL,
    person character varying(128) NOT NULL,
    template character varying(64) NOT NULL,
    starts_on timestamp with time zone NOT NULL,
    requested_by character varying(128) NOT NULL,
    state character varying(16) NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL
);
CREATE UNIQUE INDEX idx_checklists_open ON checklists USING btree (kind, person) WHERE state = 'open';
CREATE INDEX idx_checklists_state ON checklists USING btree (state, starts_on);
CREATE TABLE checklist_items (
    id bigserial PRIMARY KEY,
    checklist_id bigint NOT NULL,
    step character varying(128) NOT NULL,
    kind character varying(16) NOT NULL,
    label text NOT NULL,
    state character varying(16) NOT NULL,
    ref text,
    detail text,
    attempts integer NOT NULL DEFAULT 0,
    lease_until timestamp with time zone,
    updated_at timestamp with time zone NOT NULL
);
CREATE UNIQUE INDEX idx_checklist_items_step ON checklist_items USING btree (checklist_id, step);
