-- People's state as offboarding leaves it: an inactive person is treated as
-- an unknown employee with no roles, whatever the config says, and drops out
-- of every rotation.
CREATE TABLE person_states (
    name character varying(128) PRIMARY KEY,
    inactive boolean DEFAULT false NOT NULL,
    changed_by character varying(128) NOT NULL,
    changed_at timestamp with time zone NOT NULL
);
