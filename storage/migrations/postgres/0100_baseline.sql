-- Baseline: opsbot's schema as of legacy migration 0090 (PostgreSQL).
-- Frozen: never edit this file; a schema change is a new numbered file.

CREATE TABLE access_approvals (
    id bigint NOT NULL,
    request_id bigint NOT NULL,
    round bigint NOT NULL,
    approver character varying(128) NOT NULL,
    note text,
    at timestamp with time zone NOT NULL
);

CREATE SEQUENCE access_approvals_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE access_approvals_id_seq OWNED BY access_approvals.id;

CREATE TABLE access_requests (
    id bigint NOT NULL,
    resource character varying(128) NOT NULL,
    role character varying(64) NOT NULL,
    requester character varying(128) NOT NULL,
    email character varying(255),
    slack_id character varying(64),
    discord_id character varying(64),
    reason text,
    channel character varying(128),
    duration bigint NOT NULL,
    state character varying(32) NOT NULL,
    seq bigint DEFAULT 0 NOT NULL,
    round bigint DEFAULT 0 NOT NULL,
    approvals_needed bigint NOT NULL,
    pending_until timestamp with time zone NOT NULL,
    extend_for bigint,
    extend_until timestamp with time zone,
    granted_at timestamp with time zone,
    expires_at timestamp with time zone,
    warned boolean,
    closed_at timestamp with time zone,
    closed_by character varying(128),
    close_reason text,
    gave_up boolean,
    attempts bigint DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone,
    last_error text,
    claimed_by character varying(64),
    claimed_until timestamp with time zone,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL
);

CREATE SEQUENCE access_requests_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE access_requests_id_seq OWNED BY access_requests.id;

CREATE TABLE audit_entries (
    id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    actor character varying(128) NOT NULL,
    platform character varying(16) NOT NULL,
    action character varying(64) NOT NULL,
    subject character varying(128),
    detail text,
    request_id character varying(32)
);

CREATE SEQUENCE audit_entries_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE audit_entries_id_seq OWNED BY audit_entries.id;

CREATE TABLE backup_runs (
    id bigint NOT NULL,
    job character varying(128) NOT NULL,
    state character varying(16) NOT NULL,
    trigger character varying(16) NOT NULL,
    requested_by character varying(128) NOT NULL,
    owner character varying(255) NOT NULL,
    heartbeat_at timestamp with time zone NOT NULL,
    pid bigint,
    started_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone,
    duration_ms bigint,
    exit_code bigint,
    error text,
    output text,
    output_bytes bigint,
    cancel_by character varying(128),
    missed bigint
);

CREATE SEQUENCE backup_runs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE backup_runs_id_seq OWNED BY backup_runs.id;

CREATE TABLE backup_schedules (
    job character varying(128) NOT NULL,
    last_at timestamp with time zone NOT NULL,
    version bigint NOT NULL
);

CREATE TABLE check_results (
    id bigint NOT NULL,
    "check" character varying(100) NOT NULL,
    at timestamp with time zone NOT NULL,
    ok boolean NOT NULL,
    latency_ms bigint NOT NULL,
    error text,
    manual boolean DEFAULT false NOT NULL
);

CREATE SEQUENCE check_results_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE check_results_id_seq OWNED BY check_results.id;

CREATE TABLE check_states (
    "check" character varying(100) NOT NULL,
    failures bigint DEFAULT 0 NOT NULL,
    successes bigint DEFAULT 0 NOT NULL,
    failing_since timestamp with time zone,
    last_at timestamp with time zone,
    last_ok boolean DEFAULT false NOT NULL,
    last_error text,
    last_latency bigint DEFAULT 0 NOT NULL,
    incident_id bigint DEFAULT 0 NOT NULL,
    last_incident_id bigint DEFAULT 0 NOT NULL,
    silenced_until timestamp with time zone,
    silenced_by character varying(100)
);

CREATE TABLE devices (
    id bigint NOT NULL,
    name character varying(128) NOT NULL,
    address character varying(255) NOT NULL,
    kind character varying(64),
    site character varying(64),
    owner character varying(64),
    tags character varying(1024),
    notes text,
    profile character varying(64),
    source character varying(16) NOT NULL,
    updated_by character varying(128),
    created_at timestamp with time zone,
    updated_at timestamp with time zone
);

CREATE SEQUENCE devices_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE devices_id_seq OWNED BY devices.id;

CREATE TABLE discord_buttons (
    hash character varying(64) NOT NULL,
    command text NOT NULL,
    created_at timestamp with time zone NOT NULL
);

CREATE TABLE discord_interactions (
    id character varying(64) NOT NULL,
    seen_at timestamp with time zone NOT NULL
);

CREATE TABLE incident_events (
    id bigint NOT NULL,
    incident_id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    kind character varying(32) NOT NULL,
    actor character varying(100),
    detail text
);

CREATE SEQUENCE incident_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE incident_events_id_seq OWNED BY incident_events.id;

CREATE TABLE incidents (
    id bigint NOT NULL,
    "check" character varying(100) NOT NULL,
    kind character varying(32) NOT NULL,
    channel character varying(100) NOT NULL,
    state character varying(16) NOT NULL,
    opened_at timestamp with time zone NOT NULL,
    failing_since timestamp with time zone NOT NULL,
    error text,
    acked_by character varying(100),
    acked_at timestamp with time zone,
    resolved_at timestamp with time zone,
    resolved_by character varying(100),
    note text,
    rev bigint DEFAULT 0 NOT NULL,
    last_reminder_at timestamp with time zone,
    escalation_step bigint DEFAULT 0 NOT NULL,
    reopens bigint DEFAULT 0 NOT NULL,
    changed_at timestamp with time zone
);

CREATE SEQUENCE incidents_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE incidents_id_seq OWNED BY incidents.id;

CREATE TABLE outbox_messages (
    id bigint NOT NULL,
    key character varying(255) NOT NULL,
    lane character varying(255) NOT NULL,
    platform character varying(16) NOT NULL,
    target text NOT NULL,
    body text NOT NULL,
    updates_key character varying(255),
    thread_key character varying(255),
    state character varying(16) NOT NULL,
    attempts bigint DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone NOT NULL,
    last_error text,
    uncertain boolean DEFAULT false NOT NULL,
    message_channel character varying(64),
    message_id character varying(64),
    claimed_by character varying(64),
    claimed_until timestamp with time zone,
    created_at timestamp with time zone NOT NULL,
    queued_at timestamp with time zone NOT NULL,
    sent_at timestamp with time zone
);

CREATE SEQUENCE outbox_messages_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE outbox_messages_id_seq OWNED BY outbox_messages.id;

CREATE TABLE replicas (
    id character varying(128) NOT NULL,
    host character varying(255) NOT NULL,
    p_id bigint NOT NULL,
    version character varying(64),
    started_at timestamp with time zone NOT NULL,
    seen_at timestamp with time zone NOT NULL,
    leader boolean NOT NULL
);

CREATE TABLE slack_requests (
    key character varying(128) NOT NULL,
    seen_at timestamp with time zone NOT NULL,
    reply text
);

CREATE TABLE ticket_events (
    id bigint NOT NULL,
    ticket_id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    actor character varying(128) NOT NULL,
    kind character varying(32) NOT NULL,
    from_status character varying(16),
    to_status character varying(16),
    text text
);

CREATE SEQUENCE ticket_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE ticket_events_id_seq OWNED BY ticket_events.id;

CREATE TABLE ticket_messages (
    id bigint NOT NULL,
    ticket_id bigint NOT NULL,
    kind character varying(16) NOT NULL,
    platform character varying(16) NOT NULL,
    channel character varying(64) NOT NULL,
    message_id character varying(64) NOT NULL,
    thread character varying(64) NOT NULL,
    guild character varying(64),
    link character varying(512),
    created_at timestamp with time zone NOT NULL
);

CREATE SEQUENCE ticket_messages_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE ticket_messages_id_seq OWNED BY ticket_messages.id;

CREATE TABLE tickets (
    id bigint NOT NULL,
    summary text NOT NULL,
    description text,
    status character varying(16) NOT NULL,
    active boolean NOT NULL,
    priority character varying(16) NOT NULL,
    category character varying(64),
    queue character varying(64),
    requester character varying(128) NOT NULL,
    filed_by character varying(128) NOT NULL,
    assignee character varying(128),
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    first_response_at timestamp with time zone,
    resolved_at timestamp with time zone,
    closed_at timestamp with time zone,
    first_response_due timestamp with time zone,
    resolve_due timestamp with time zone,
    first_response_warn_at timestamp with time zone,
    first_response_breach_at timestamp with time zone,
    resolve_warn_at timestamp with time zone,
    resolve_breach_at timestamp with time zone,
    first_response_warned boolean DEFAULT false NOT NULL,
    first_response_breached boolean DEFAULT false NOT NULL,
    resolve_warned boolean DEFAULT false NOT NULL,
    resolve_breached boolean DEFAULT false NOT NULL
);

CREATE SEQUENCE tickets_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE tickets_id_seq OWNED BY tickets.id;

ALTER TABLE ONLY access_approvals ALTER COLUMN id SET DEFAULT nextval('access_approvals_id_seq'::regclass);

ALTER TABLE ONLY access_requests ALTER COLUMN id SET DEFAULT nextval('access_requests_id_seq'::regclass);

ALTER TABLE ONLY audit_entries ALTER COLUMN id SET DEFAULT nextval('audit_entries_id_seq'::regclass);

ALTER TABLE ONLY backup_runs ALTER COLUMN id SET DEFAULT nextval('backup_runs_id_seq'::regclass);

ALTER TABLE ONLY check_results ALTER COLUMN id SET DEFAULT nextval('check_results_id_seq'::regclass);

ALTER TABLE ONLY devices ALTER COLUMN id SET DEFAULT nextval('devices_id_seq'::regclass);

ALTER TABLE ONLY incident_events ALTER COLUMN id SET DEFAULT nextval('incident_events_id_seq'::regclass);

ALTER TABLE ONLY incidents ALTER COLUMN id SET DEFAULT nextval('incidents_id_seq'::regclass);

ALTER TABLE ONLY outbox_messages ALTER COLUMN id SET DEFAULT nextval('outbox_messages_id_seq'::regclass);

ALTER TABLE ONLY ticket_events ALTER COLUMN id SET DEFAULT nextval('ticket_events_id_seq'::regclass);

ALTER TABLE ONLY ticket_messages ALTER COLUMN id SET DEFAULT nextval('ticket_messages_id_seq'::regclass);

ALTER TABLE ONLY tickets ALTER COLUMN id SET DEFAULT nextval('tickets_id_seq'::regclass);

ALTER TABLE ONLY access_approvals
    ADD CONSTRAINT access_approvals_pkey PRIMARY KEY (id);

ALTER TABLE ONLY access_requests
    ADD CONSTRAINT access_requests_pkey PRIMARY KEY (id);

ALTER TABLE ONLY audit_entries
    ADD CONSTRAINT audit_entries_pkey PRIMARY KEY (id);

ALTER TABLE ONLY backup_runs
    ADD CONSTRAINT backup_runs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY backup_schedules
    ADD CONSTRAINT backup_schedules_pkey PRIMARY KEY (job);

ALTER TABLE ONLY check_results
    ADD CONSTRAINT check_results_pkey PRIMARY KEY (id);

ALTER TABLE ONLY check_states
    ADD CONSTRAINT check_states_pkey PRIMARY KEY ("check");

ALTER TABLE ONLY devices
    ADD CONSTRAINT devices_pkey PRIMARY KEY (id);

ALTER TABLE ONLY discord_buttons
    ADD CONSTRAINT discord_buttons_pkey PRIMARY KEY (hash);

ALTER TABLE ONLY discord_interactions
    ADD CONSTRAINT discord_interactions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY incident_events
    ADD CONSTRAINT incident_events_pkey PRIMARY KEY (id);

ALTER TABLE ONLY incidents
    ADD CONSTRAINT incidents_pkey PRIMARY KEY (id);

ALTER TABLE ONLY outbox_messages
    ADD CONSTRAINT outbox_messages_pkey PRIMARY KEY (id);

ALTER TABLE ONLY replicas
    ADD CONSTRAINT replicas_pkey PRIMARY KEY (id);

ALTER TABLE ONLY slack_requests
    ADD CONSTRAINT slack_requests_pkey PRIMARY KEY (key);

ALTER TABLE ONLY ticket_events
    ADD CONSTRAINT ticket_events_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ticket_messages
    ADD CONSTRAINT ticket_messages_pkey PRIMARY KEY (id);

ALTER TABLE ONLY tickets
    ADD CONSTRAINT tickets_pkey PRIMARY KEY (id);

CREATE UNIQUE INDEX idx_access_approval ON access_approvals USING btree (request_id, round, approver);

CREATE INDEX idx_access_requests_expires_at ON access_requests USING btree (expires_at);

CREATE INDEX idx_access_requests_next_attempt_at ON access_requests USING btree (next_attempt_at);

CREATE INDEX idx_access_requests_requester ON access_requests USING btree (requester);

CREATE INDEX idx_access_requests_resource ON access_requests USING btree (resource);

CREATE INDEX idx_access_requests_state ON access_requests USING btree (state);

CREATE INDEX idx_audit_entries_action ON audit_entries USING btree (action);

CREATE INDEX idx_audit_entries_actor ON audit_entries USING btree (actor);

CREATE INDEX idx_audit_entries_at ON audit_entries USING btree (at);

CREATE INDEX idx_audit_entries_subject ON audit_entries USING btree (subject);

CREATE INDEX idx_backup_runs_job_id ON backup_runs USING btree (job, id);

CREATE UNIQUE INDEX idx_backup_runs_one_running ON backup_runs USING btree (job) WHERE ((state)::text = 'running'::text);

CREATE INDEX idx_backup_runs_state ON backup_runs USING btree (state);

CREATE INDEX idx_check_results_at ON check_results USING btree (at);

CREATE INDEX idx_check_results_check_at ON check_results USING btree ("check", at);

CREATE INDEX idx_devices_address ON devices USING btree (address);

CREATE UNIQUE INDEX idx_devices_name ON devices USING btree (name);

CREATE INDEX idx_discord_interactions_seen_at ON discord_interactions USING btree (seen_at);

CREATE INDEX idx_incident_events_incident_id ON incident_events USING btree (incident_id);

CREATE INDEX idx_incidents_check ON incidents USING btree ("check");

CREATE UNIQUE INDEX idx_incidents_one_open ON incidents USING btree ("check") WHERE ((state)::text <> 'resolved'::text);

CREATE INDEX idx_incidents_opened_at ON incidents USING btree (opened_at);

CREATE INDEX idx_incidents_state ON incidents USING btree (state);

CREATE INDEX idx_outbox_messages_created_at ON outbox_messages USING btree (created_at);

CREATE UNIQUE INDEX idx_outbox_messages_key ON outbox_messages USING btree (key);

CREATE INDEX idx_outbox_state_lane ON outbox_messages USING btree (state, lane);

CREATE INDEX idx_replicas_seen_at ON replicas USING btree (seen_at);

CREATE INDEX idx_slack_requests_seen_at ON slack_requests USING btree (seen_at);

CREATE INDEX idx_ticket_events_ticket ON ticket_events USING btree (ticket_id);

CREATE UNIQUE INDEX idx_ticket_messages_message ON ticket_messages USING btree (platform, channel, message_id);

CREATE INDEX idx_ticket_messages_thread ON ticket_messages USING btree (platform, channel, thread);

CREATE INDEX idx_ticket_messages_ticket_id ON ticket_messages USING btree (ticket_id);

CREATE INDEX idx_tickets_active_id ON tickets USING btree (active, id);

CREATE INDEX idx_tickets_assignee ON tickets USING btree (assignee, active, id);

CREATE INDEX idx_tickets_filed_by ON tickets USING btree (filed_by, active, id);

CREATE INDEX idx_tickets_first_response_breach_at ON tickets USING btree (first_response_breach_at) WHERE (first_response_breach_at IS NOT NULL);

CREATE INDEX idx_tickets_first_response_warn_at ON tickets USING btree (first_response_warn_at) WHERE (first_response_warn_at IS NOT NULL);

CREATE INDEX idx_tickets_queue ON tickets USING btree (queue, active, id);

CREATE INDEX idx_tickets_requester ON tickets USING btree (requester, active, id);

CREATE INDEX idx_tickets_resolve_breach_at ON tickets USING btree (resolve_breach_at) WHERE (resolve_breach_at IS NOT NULL);

CREATE INDEX idx_tickets_resolve_warn_at ON tickets USING btree (resolve_warn_at) WHERE (resolve_warn_at IS NOT NULL);

CREATE INDEX idx_tickets_status_id ON tickets USING btree (status, id);
