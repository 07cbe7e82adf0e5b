-- Integration test: insert, query, and check a constraint; any failure stops psql (ON_ERROR_STOP).
INSERT INTO orders (item, amount) VALUES ('widget', 3), ('gadget', 5);
DO $$
BEGIN
    IF (SELECT sum(amount) FROM orders) <> 8 THEN
        RAISE EXCEPTION 'expected a total of 8';
    END IF;
    BEGIN
        INSERT INTO orders (item, amount) VALUES ('broken', 0);
        RAISE EXCEPTION 'the amount check did not fire';
    EXCEPTION WHEN check_violation THEN
        RAISE NOTICE 'amount check works';
    END;
END $$;
SELECT item, amount FROM orders ORDER BY id;
