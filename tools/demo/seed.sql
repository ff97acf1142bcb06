-- Seed of the demo shop's database (run by tools/demo/stack.sh over the
-- unix socket, so it is not TCP traffic). There is deliberately no
-- product_reviews table: catalog's GET /broken queries it (42P01).
CREATE TABLE products (
    id    integer PRIMARY KEY,
    name  text NOT NULL,
    price numeric(10, 2) NOT NULL
);
INSERT INTO products (id, name, price) VALUES
    (1, 'kettle', 24.90),
    (2, 'teapot', 18.50),
    (3, 'mug', 6.00),
    (4, 'green tea 100g', 7.25),
    (5, 'black tea 250g', 9.80);
