-- Requests per client per minute, shared by every gateway replica (gas_gateway.edge).
CREATE TABLE rate_limits (
    key          text NOT NULL,
    window_start bigint NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (key, window_start)
);
