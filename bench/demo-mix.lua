-- wrk script for `make bench`'s recording of the demo shop under load
-- (bench/run.sh): each request takes the next of these, in order, so the
-- mix is fixed: static files from nginx, and API calls that go through
-- frontend to catalog (PostgreSQL) and cart (Redis), errors included.
local reqs = {
    { "GET", "/static/index.html" },
    { "GET", "/api/products" },
    { "GET", "/api/products/1" },
    { "POST", "/api/cart/2/items", '{"product_id": 3, "qty": 1}' },
    { "GET", "/api/products/4" },
    { "GET", "/api/cart/2" },
    { "GET", "/static/shop.css" },
    { "GET", "/api/products/999" },
    { "GET", "/api/cart/1/bad" },
    { "GET", "/api/broken" },
}
local i = 0

request = function()
    i = i % #reqs + 1
    local r = reqs[i]
    if r[3] then
        return wrk.format(r[1], r[2], { ["Content-Type"] = "application/json" }, r[3])
    end
    return wrk.format(r[1], r[2])
end
