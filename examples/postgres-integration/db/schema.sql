-- The schema the integration tests run against.
CREATE TABLE orders (
    id      serial PRIMARY KEY,
    item    text    NOT NULL,
    amount  integer NOT NULL CHECK (amount > 0)
);
