-- SPDX-License-Identifier: BSD-2-Clause
-- The estate's MariaDB fixture (database shop), loaded by bin/seed-mariadb.sh
-- over the unix socket as root. Orders 1-3 (user 1) are fixtures; new
-- orders start at 1000.
DROP DATABASE IF EXISTS shop;
CREATE DATABASE shop;
CREATE USER IF NOT EXISTS 'shop'@'127.0.0.1' IDENTIFIED BY 'shop';
GRANT ALL ON shop.* TO 'shop'@'127.0.0.1';
USE shop;
CREATE TABLE orders (
  id INT AUTO_INCREMENT PRIMARY KEY, user_id INT NOT NULL, currency CHAR(3) NOT NULL,
  total_cents INT NOT NULL, payment_id VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL,
  created TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, KEY (user_id)) AUTO_INCREMENT = 1000;
CREATE TABLE order_items (
  order_id INT NOT NULL, product_id INT NOT NULL, qty INT NOT NULL, price_cents INT NOT NULL,
  PRIMARY KEY (order_id, product_id));
INSERT INTO orders (id, user_id, currency, total_cents, payment_id, status) VALUES
  (1, 1, 'USD', 2411, 'pay_fixture1', 'paid'),
  (2, 1, 'EUR', 1290, 'pay_fixture2', 'paid'),
  (3, 1, 'USD', 999, 'pay_fixture3', 'refunded');
INSERT INTO order_items VALUES (1, 1, 2, 637), (1, 2, 1, 774), (2, 3, 1, 911), (3, 4, 1, 1048);
ALTER TABLE orders AUTO_INCREMENT = 1000;
