-- SPDX-License-Identifier: BSD-2-Clause
-- The estate's PostgreSQL fixture (database shop), loaded by bin/seed-postgres.sh.
-- Ranges: products 1-100 and users 1-20 belong to the test suite,
-- products 101-200 and users 1001-1100 to the traffic generator
-- (tools/estate/loadgen.py); ids 201+ do not exist. Stock 0 (out of stock):
-- products 13 (tests) and 113, 187 (traffic).
CREATE TABLE products (
  id integer PRIMARY KEY, sku text NOT NULL UNIQUE, name text NOT NULL,
  category text NOT NULL, price_cents integer NOT NULL, stock integer NOT NULL);
INSERT INTO products
SELECT i, 'SKU-' || lpad(i::text, 5, '0'), 'Product ' || i,
       CASE WHEN i <= 100 THEN (ARRAY['books','games','tools','garden','music'])[1 + (i - 1) % 5]
            ELSE (ARRAY['kitchen','sports','toys','audio','office'])[1 + (i - 1) % 5] END,
       500 + (i * 137) % 9500,
       CASE WHEN i IN (13, 113, 187) THEN 0 ELSE 1000000 END
FROM generate_series(1, 200) AS i;

CREATE TABLE users (
  id integer PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL,
  salt text NOT NULL, password_hash text NOT NULL);
-- password of user N: pw-N
INSERT INTO users
SELECT i, CASE WHEN i <= 20 THEN 'user' || i || '@test.example' ELSE 'shopper' || i || '@prod.example' END,
       CASE WHEN i <= 20 THEN 'Test User ' || i ELSE 'Shopper ' || i END,
       's' || i, encode(sha256(convert_to('s' || i || 'pw-' || i, 'UTF8')), 'hex')
FROM (SELECT generate_series(1, 20) UNION ALL SELECT generate_series(1001, 1100)) AS g(i);
