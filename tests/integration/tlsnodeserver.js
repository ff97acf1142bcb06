// node's HTTPS server for tests/integration/tlsbio.sh: GET /items/N answers
// 200 with a small JSON body, anything else 404. node drives OpenSSL
// through memory BIOs, as its client does (tlsnode.js).
"use strict";
const https = require("https");
const fs = require("fs");
const [port, cert, key] = process.argv.slice(2);
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
	const m = /^\/items\/(\d+)$/.exec(req.url);
	if (!m) {
		res.writeHead(404);
		res.end("no\n");
		return;
	}
	const body = JSON.stringify({ id: Number(m[1]), name: "item-" + m[1] });
	res.writeHead(200, { "Content-Type": "application/json" });
	res.end(body);
}).listen(Number(port), "127.0.0.1", () => console.log("listening on " + port));
