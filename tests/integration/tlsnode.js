// node's HTTPS client for tests/integration/tls.sh: GET /items/1..N over one
// keep-alive connection to 127.0.0.1:PORT, certificate not verified.
// node drives OpenSSL through memory BIOs: no syscall is nested in its SSL
// calls, so its own end stays encrypted to the collector.
"use strict";
const https = require("https");
const [port, n] = process.argv.slice(2).map(Number);
const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
let i = 0;

function next() {
	if (i === n) {
		agent.destroy();
		return;
	}
	i++;
	https.get({ host: "127.0.0.1", port, path: "/items/" + i, agent,
		    rejectUnauthorized: false }, (res) => {
		res.resume();
		res.on("end", next);
	}).on("error", (e) => {
		console.error("tlsnode: " + e.message);
		process.exit(1);
	});
}
next();
