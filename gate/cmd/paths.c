// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl paths: multi-hop call paths (A -> B -> D ...) from the store's
 * path_links (docs/store.md, schema 3). A link row says how many requests
 * of a child edge (B -> D) B made while serving requests of a parent edge
 * (A -> B) in one window, and how that was learnt (method).
 *
 * The links of the range are read in one pass (summed over windows and
 * methods per parent/child pair), each edge they name is loaded once by
 * rowid, then the paths are walked in memory, depth first: from every root
 * (an edge with child links and no parent link) to every leaf (an edge
 * without child links). A hop whose server is already on the path (a
 * service called back up the chain) ends the path, marked as a cycle; a
 * path is cut at PATHS_MAX_HOPS hops. Edges whose child links no walk
 * followed (ending a path as a cycle or at the cut, or in a cycle no root
 * reaches) start paths of their own, so every link in range shows up. The edges on the listed paths then get
 * their requests, errors and latency over the range, one indexed query
 * each. docs/gatectl.md is the contract of the output.
 */
#include "cmd/cmd.h"
#include "output/output.h"
#include "query/edges.h"
#include "query/open.h"
#include "query/time.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define PATHS_MAX_HOPS 16		/* edges on one path */
#define PATHS_MAX 1000000		/* paths walked before giving up */
#define PATHS_NONE UINT32_MAX

/* How a link was learnt; the names are those of path_links.method. */
enum paths_method {
	PM_UNKNOWN = 0,		/* a name this build does not know */
	PM_THREAD,		/* same OS thread between request and response: heuristic */
	PM_TRACEPARENT,		/* same W3C trace id in and out: exact */
	PM_TRACE,		/* imported OTLP spans: exact */
	PM_COUNT
};

static const char *const method_names[PM_COUNT] = {
	"unknown", "thread", "traceparent", "trace",
};

/* Weakest first; equal strengths tie to the lower enum (traceparent). */
static const int method_strength[PM_COUNT] = { 0, 1, 2, 2 };

/* One parent edge -> child edge pair, summed over the range. */
struct paths_link {
	int64_t parent_id, child_id;	/* edges.id */
	uint32_t parent, child;		/* node indexes (edges in p->es) */
	uint64_t count;			/* child requests, all methods */
	uint64_t by[PM_COUNT];		/* the same per method */
	uint8_t weakest;		/* enum paths_method, of the by[] > 0 */
};

/* An edge named by a link: p->es.v[i] is node i. */
struct paths_node {
	uint32_t first, n;	/* child links: p->links[first .. first + n) */
	uint32_t rank;		/* position in (client, server, protocol, operation) order */
	bool has_parent;	/* some link has it as child */
	bool expanded;		/* its child links were walked */
	bool used;		/* on a listed path: its stats are read */
};

struct paths_path {
	size_t first;		/* hops: p->hop_node/hop_link[first .. first + n) */
	uint32_t n;		/* edges, >= 2 */
	uint64_t count;		/* smallest link count on the path */
	uint8_t weakest;	/* enum paths_method */
	bool root;		/* the first edge has no parent link */
	bool cycle;		/* the last hop calls a service already on the path */
	bool truncated;		/* cut at PATHS_MAX_HOPS with child links left */
};

struct paths {
	struct gate_ctx *ctx;
	struct gate_range range;
	const char *from, *through;	/* names as given, or NULL */
	int64_t from_id, through_id;
	uint64_t min_count;
	bool have_table;		/* the store has path_links */
	struct gate_edges es;		/* the nodes' edges */
	struct gate_idmap node_at;	/* edge id -> node */
	struct paths_node *nodes;
	uint32_t *by_rank;		/* node indexes in rank order */
	struct paths_link *links;
	size_t nlinks, caplinks;
	struct paths_path *paths;
	size_t npaths, cappaths;
	uint32_t *hop_node, *hop_link;	/* link into the hop; PATHS_NONE first */
	size_t nhops, caphops;
	size_t walked;			/* paths walked, listed or not */
	uint32_t stack_node[PATHS_MAX_HOPS];
	uint32_t stack_link[PATHS_MAX_HOPS];
};

static void paths_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl paths [--from S] [--through S] [--since T] [--until T]\n"
		"                     [--min-count N] [--db FILE] [-o table|json]\n"
		"\n"
		"Multi-hop call paths (A -> B -> D ...) from the path links the agent\n"
		"records: B made requests to D while serving a request from A. A path\n"
		"runs from an edge nothing links into to an edge that links to nothing,\n"
		"each hop with its requests, errors and p50/p90/p99 latency over the\n"
		"range, the number of its requests linked to the hop before, and how the\n"
		"link was learnt (thread: same OS thread, a heuristic; traceparent: same\n"
		"W3C trace id; trace: imported spans). A path's count is its smallest\n"
		"link count; its weakest method is the weakest of its links. A service\n"
		"called again further down ends the path (cycle); paths are cut at 16\n"
		"hops. Most traffic first.\n"
		"\n"
		"options:\n"
		"  --from S            paths that start with a request from S\n"
		"  --through S         paths with S as a client or server on any hop\n"
		"  --since T           first window: the minute holding T (default: all)\n"
		"  --until T           windows that start before T (default: all)\n"
		"  --min-count N       ignore links with fewer than N requests in range\n"
		"                      (default 1)\n"
		"  --db FILE           the store (default " GATE_DEFAULT_DB ")\n"
		"  -o, --output FMT    table or json\n"
		"\n"
		"exit status: 0 paths listed (also none), 2 unknown service or other error\n"
		"\n"
		"examples:\n"
		"  gatectl paths --through checkout --since 1h\n"
		"  gatectl paths --from gateway --min-count 100 -o json\n");
}

static int oom(struct paths *p)
{
	return gate_fail(p->ctx, -ENOMEM, "out of memory");
}

static enum paths_method method_parse(const unsigned char *s)
{
	for (int m = PM_THREAD; m < PM_COUNT; m++)
		if (s && !strcmp((const char *)s, method_names[m]))
			return m;
	return PM_UNKNOWN;
}

/* The weaker of methods @a and @b. */
static uint8_t method_weaker(uint8_t a, uint8_t b)
{
	if (method_strength[a] != method_strength[b])
		return method_strength[a] < method_strength[b] ? a : b;
	return a < b ? a : b;
}

/* Whether the store has the path_links table (schema 3). */
static int paths_have_table(struct paths *p)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(p->ctx->db, "SELECT 1 FROM sqlite_master WHERE "
			       "type = 'table' AND name = 'path_links'", -1, &st,
			       NULL) != SQLITE_OK)
		goto out_fail;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto out_fail;
	p->have_table = rc == SQLITE_ROW;
	return 0;
out_fail:
	return gate_fail(p->ctx, -EIO, "cannot read the schema of '%s': %s",
			 p->ctx->db_path, sqlite3_errmsg(p->ctx->db));
}

static struct paths_link *link_push(struct paths *p)
{
	if (p->nlinks == p->caplinks) {
		size_t cap = p->caplinks ? p->caplinks * 2 : 256;
		struct paths_link *v = realloc(p->links, cap * sizeof(*v));
		if (!v)
			return NULL;
		p->links = v;
		p->caplinks = cap;
	}
	memset(&p->links[p->nlinks], 0, sizeof(p->links[0]));
	return &p->links[p->nlinks++];
}

static int link_id_cmp(const void *a, const void *b)
{
	const struct paths_link *x = a, *y = b;

	if (x->parent_id != y->parent_id)
		return x->parent_id < y->parent_id ? -1 : 1;
	return x->child_id < y->child_id ? -1 : x->child_id > y->child_id;
}

/*
 * Read the links of the range, one per (parent, child, method), then merge
 * them per (parent, child) and drop those under --min-count.
 */
static int paths_read_links(struct paths *p)
{
	static const char sql[] =
		"SELECT parent_edge_id, child_edge_id, method, sum(count) "
		"FROM path_links WHERE window_start >= ?1 AND window_start < ?2 "
		"GROUP BY parent_edge_id, child_edge_id, method";
	sqlite3_stmt *st;
	size_t kept = 0;
	int rc, err = 0;

	if (sqlite3_prepare_v2(p->ctx->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out_dbfail;
	sqlite3_bind_int64(st, 1, p->range.lo_s);
	sqlite3_bind_int64(st, 2, p->range.hi_s);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t n = sqlite3_column_int64(st, 3);
		struct paths_link *l;
		if (n <= 0)
			continue;	/* nothing linked (or garbage): no link */
		l = link_push(p);
		if (!l) {
			sqlite3_finalize(st);
			return oom(p);
		}
		l->parent_id = sqlite3_column_int64(st, 0);
		l->child_id = sqlite3_column_int64(st, 1);
		l->by[method_parse(sqlite3_column_text(st, 2))] = (uint64_t)n;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto out_dbfail;
	if (p->nlinks)
		qsort(p->links, p->nlinks, sizeof(p->links[0]), link_id_cmp);
	for (size_t i = 0; i < p->nlinks; i++) {
		struct paths_link *l = &p->links[i], *k;
		if (kept && !link_id_cmp(&p->links[kept - 1], l)) {
			k = &p->links[kept - 1];
			for (int m = 0; m < PM_COUNT; m++)
				k->by[m] += l->by[m];
			continue;
		}
		p->links[kept++] = *l;
	}
	p->nlinks = kept;
	kept = 0;
	for (size_t i = 0; i < p->nlinks; i++) {
		struct paths_link *l = &p->links[i];
		l->weakest = PM_COUNT;
		for (int m = 0; m < PM_COUNT; m++) {
			l->count += l->by[m];
			if (l->by[m])
				l->weakest = l->weakest == PM_COUNT ? m :
					     method_weaker(l->weakest, m);
		}
		if (l->count >= p->min_count)
			p->links[kept++] = *l;
	}
	p->nlinks = kept;
	return err;
out_dbfail:
	return gate_fail(p->ctx, -EIO, "cannot read path_links in '%s': %s",
			 p->ctx->db_path, sqlite3_errmsg(p->ctx->db));
}

/* The node of edge @id, loaded if new. OUT: *@node. */
static int paths_node(struct paths *p, int64_t id, uint32_t *node)
{
	size_t at;
	int err;

	if (gate_idmap_get(&p->node_at, id, &at)) {
		*node = (uint32_t)at;
		return 0;
	}
	at = p->es.n;
	err = gate_edge_load(p->ctx, id, &p->es);
	if (err == -ENOENT)
		return gate_fail(p->ctx, -EPROTO, "path link to missing edge %lld in '%s'",
				 (long long)id, p->ctx->db_path);
	if (err)
		return err;
	if (gate_idmap_put(&p->node_at, id, at))
		return oom(p);
	*node = (uint32_t)at;
	return 0;
}

static int rank_cmp(const void *a, const void *b, void *arg)
{
	const struct gate_edge *v = arg;

	return gate_edge_cmp(&v[*(const uint32_t *)a], &v[*(const uint32_t *)b]);
}

static int link_node_cmp(const void *a, const void *b, void *arg)
{
	const struct paths_node *nodes = arg;
	const struct paths_link *x = a, *y = b;

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return nodes[x->child].rank < nodes[y->child].rank ? -1 :
	       nodes[x->child].rank > nodes[y->child].rank;
}

/*
 * Load the links' edges as nodes, check that each link continues its
 * parent (the child's client is the parent's server), rank the nodes and
 * index each node's child links.
 */
static int paths_build(struct paths *p)
{
	size_t n;
	int err;

	for (size_t i = 0; i < p->nlinks; i++) {
		struct paths_link *l = &p->links[i];
		if ((err = paths_node(p, l->parent_id, &l->parent)) ||
		    (err = paths_node(p, l->child_id, &l->child)))
			return err;
		if (p->es.v[l->child].client_id != p->es.v[l->parent].server_id)
			return gate_fail(p->ctx, -EPROTO,
					 "path link from edge %lld to edge %lld in '%s': "
					 "the child's client is not the parent's server",
					 (long long)l->parent_id, (long long)l->child_id,
					 p->ctx->db_path);
	}
	n = p->es.n;
	p->nodes = calloc(n + 1, sizeof(*p->nodes));
	p->by_rank = malloc((n + 1) * sizeof(*p->by_rank));
	if (!p->nodes || !p->by_rank)
		return oom(p);
	for (size_t i = 0; i < n; i++)
		p->by_rank[i] = (uint32_t)i;
	if (n)
		qsort_r(p->by_rank, n, sizeof(*p->by_rank), rank_cmp, p->es.v);
	for (size_t i = 0; i < n; i++)
		p->nodes[p->by_rank[i]].rank = (uint32_t)i;
	if (p->nlinks)
		qsort_r(p->links, p->nlinks, sizeof(*p->links), link_node_cmp, p->nodes);
	for (size_t i = 0; i < p->nlinks; i++) {
		struct paths_node *pn = &p->nodes[p->links[i].parent];
		if (!pn->n)
			pn->first = (uint32_t)i;
		pn->n++;
		p->nodes[p->links[i].child].has_parent = true;
	}
	return 0;
}

/* The edge at @depth of the walk calls a service already on the path. */
static bool paths_closes_cycle(const struct paths *p, unsigned depth)
{
	int64_t s = p->es.v[p->stack_node[depth]].server_id;

	if (p->es.v[p->stack_node[0]].client_id == s)
		return true;
	for (unsigned i = 0; i < depth; i++)
		if (p->es.v[p->stack_node[i]].server_id == s)
			return true;
	return false;
}

static bool paths_has_through(const struct paths *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const struct gate_edge *e = &p->es.v[p->stack_node[i]];
		if (e->client_id == p->through_id || e->server_id == p->through_id)
			return true;
	}
	return false;
}

static int paths_grow(struct paths *p, unsigned n)
{
	if (p->npaths == p->cappaths) {
		size_t cap = p->cappaths ? p->cappaths * 2 : 64;
		struct paths_path *v = realloc(p->paths, cap * sizeof(*v));
		if (!v)
			return oom(p);
		p->paths = v;
		p->cappaths = cap;
	}
	if (p->nhops + n > p->caphops) {
		size_t cap = p->caphops ? p->caphops * 2 : 256;
		uint32_t *a, *b;
		while (cap < p->nhops + n)
			cap *= 2;
		a = realloc(p->hop_node, cap * sizeof(*a));
		if (a)
			p->hop_node = a;
		b = realloc(p->hop_link, cap * sizeof(*b));
		if (b)
			p->hop_link = b;
		if (!a || !b)
			return oom(p);
		p->caphops = cap;
	}
	return 0;
}

/* The walk's stack of @n edges is a path: list it if it passes --through. */
static int paths_emit(struct paths *p, unsigned n, bool cycle, bool truncated)
{
	struct paths_path *path;
	int err;

	if (++p->walked > PATHS_MAX)
		return gate_fail(p->ctx, -E2BIG,
				 "more than %d call paths; narrow them with --from, "
				 "--through, --min-count or a time range", PATHS_MAX);
	if (p->through && !paths_has_through(p, n))
		return 0;
	if ((err = paths_grow(p, n)))
		return err;
	path = &p->paths[p->npaths++];
	*path = (struct paths_path){
		.first = p->nhops, .n = n, .count = UINT64_MAX, .weakest = PM_COUNT,
		.root = !p->nodes[p->stack_node[0]].has_parent,
		.cycle = cycle, .truncated = truncated,
	};
	for (unsigned i = 0; i < n; i++) {
		p->hop_node[p->nhops] = p->stack_node[i];
		p->hop_link[p->nhops++] = i ? p->stack_link[i] : PATHS_NONE;
		p->nodes[p->stack_node[i]].used = true;
		if (!i)
			continue;
		const struct paths_link *l = &p->links[p->stack_link[i]];
		if (l->count < path->count)
			path->count = l->count;
		path->weakest = path->weakest == PM_COUNT ? l->weakest :
				method_weaker(path->weakest, l->weakest);
	}
	return 0;
}

/* Walk from node @node, reached through link @link, at @depth. */
static int paths_walk(struct paths *p, uint32_t node, uint32_t link, unsigned depth)
{
	const struct paths_node *pn = &p->nodes[node];
	int err;

	p->stack_node[depth] = node;
	p->stack_link[depth] = link;
	if (depth && paths_closes_cycle(p, depth))
		return paths_emit(p, depth + 1, true, false);
	if (!pn->n)
		return paths_emit(p, depth + 1, false, false);
	if (depth + 1 == PATHS_MAX_HOPS)
		return paths_emit(p, depth + 1, false, true);
	p->nodes[node].expanded = true;
	for (uint32_t i = pn->first; i < pn->first + pn->n; i++) {
		err = paths_walk(p, p->links[i].child, i, depth + 1);
		if (err)
			return err;
	}
	return 0;
}

/*
 * With --from: every edge from that service with child links starts a
 * path. Without: every root, then, in the same order, every edge whose
 * child links no walk followed (it ended a path as a cycle or at the cut,
 * or no root reaches it): each link is then on some path.
 */
static int paths_find(struct paths *p)
{
	size_t n = p->es.n;
	int err;

	for (size_t i = 0; i < n; i++) {
		uint32_t v = p->by_rank[i];
		const struct paths_node *pn = &p->nodes[v];
		bool start = p->from ? p->es.v[v].client_id == p->from_id
				     : !pn->has_parent;
		if (pn->n && start && (err = paths_walk(p, v, PATHS_NONE, 0)))
			return err;
	}
	for (size_t i = 0; i < n && !p->from; i++) {
		uint32_t v = p->by_rank[i];
		if (p->nodes[v].n && !p->nodes[v].expanded &&
		    (err = paths_walk(p, v, PATHS_NONE, 0)))
			return err;
	}
	return 0;
}

/* The requests, errors and latency of every edge on a listed path. */
static int paths_stats(struct paths *p)
{
	int err;

	for (size_t i = 0; i < p->es.n; i++) {
		if (!p->nodes[i].used)
			continue;
		err = gate_edge_stats(p->ctx, p->es.v[i].id, p->range, true,
				      &p->es.v[i].stats);
		if (err)
			return err;
	}
	return 0;
}

/* Most linked requests first, then by the hops' edges, shorter first. */
static int path_cmp(const void *a, const void *b, void *arg)
{
	const struct paths *p = arg;
	const struct paths_path *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	for (uint32_t i = 0; i < x->n && i < y->n; i++) {
		uint32_t rx = p->nodes[p->hop_node[x->first + i]].rank;
		uint32_t ry = p->nodes[p->hop_node[y->first + i]].rank;
		if (rx != ry)
			return rx < ry ? -1 : 1;
	}
	return x->n < y->n ? -1 : x->n > y->n;
}

/* "thread+traceparent": the methods of link @l with requests, weakest first. */
static void link_methods_str(const struct paths_link *l, char *buf, size_t len)
{
	static const uint8_t order[] = { PM_UNKNOWN, PM_THREAD, PM_TRACEPARENT, PM_TRACE };
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(order); i++) {
		if (!l->by[order[i]])
			continue;
		at += (size_t)snprintf(buf + at, at < len ? len - at : 0, "%s%s",
				       at ? "+" : "", method_names[order[i]]);
	}
}

static json_t *paths_json_hop(const struct paths *p, size_t h)
{
	const struct gate_edge *e = &p->es.v[p->hop_node[h]];
	json_t *o = gate_json_edge(e), *by;

	if (!o)
		return NULL;
	if (p->hop_link[h] == PATHS_NONE) {
		if (json_object_set_new(o, "link_count", json_null()) ||
		    json_object_set_new(o, "link_method", json_null()) ||
		    json_object_set_new(o, "link_methods", json_null()))
			goto out_nomem;
		return o;
	}
	const struct paths_link *l = &p->links[p->hop_link[h]];
	by = json_object();
	if (!by || json_object_set_new(o, "link_count", json_integer((json_int_t)l->count)) ||
	    json_object_set_new(o, "link_method", json_string(method_names[l->weakest])) ||
	    json_object_set_new(o, "link_methods", by)) {
		json_decref(o);
		return NULL;
	}
	for (int m = PM_THREAD; m <= PM_COUNT; m++) {
		int k = m == PM_COUNT ? PM_UNKNOWN : m;	/* unknown last */
		if (l->by[k] && json_object_set_new(by, method_names[k],
						    json_integer((json_int_t)l->by[k])))
			goto out_nomem;
	}
	return o;
out_nomem:
	json_decref(o);
	return NULL;
}

static json_t *paths_json_path(const struct paths *p, const struct paths_path *path)
{
	json_t *o, *svcs, *hops;

	o = json_pack("{s:[], s:I, s:s, s:b, s:b, s:b, s:[]}", "services",
		      "count", (json_int_t)path->count,
		      "weakest_method", method_names[path->weakest],
		      "root", path->root, "cycle", path->cycle,
		      "truncated", path->truncated, "hops");
	if (!o)
		return NULL;
	svcs = json_object_get(o, "services");
	hops = json_object_get(o, "hops");
	if (json_array_append_new(svcs, json_string(p->es.v[p->hop_node[path->first]].client)))
		goto out_nomem;
	for (size_t h = path->first; h < path->first + path->n; h++)
		if (json_array_append_new(svcs, json_string(p->es.v[p->hop_node[h]].server)) ||
		    json_array_append_new(hops, paths_json_hop(p, h)))
			goto out_nomem;
	return o;
out_nomem:
	json_decref(o);
	return NULL;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Write the JSON text @s with every line after the first indented by @ind. */
static int paths_put_indented(const char *s, const char *ind)
{
	for (const char *nl; (nl = strchr(s, '\n')); s = nl + 1)
		if (fwrite(s, 1, (size_t)(nl + 1 - s), stdout) != (size_t)(nl + 1 - s) ||
		    fputs(ind, stdout) == EOF)
			return -EIO;
	return fputs(s, stdout) == EOF ? -EIO : 0;
}

/*
 * The document, as gate_json_print() would print it, but one path at a
 * time: a path's objects are built, written and freed before the next, so
 * memory stays flat however many paths there are.
 */
static int paths_json(struct paths *p, int64_t since, int64_t until)
{
	size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15);
	json_t *root;
	char *head = NULL, *text;
	int err = 0;

	root = json_pack("{s:o, s:o, s:o, s:o, s:I}",
			 "since", since == INT64_MIN ? json_null() : gate_json_time(since),
			 "until", until == INT64_MAX ? json_null() : gate_json_time(until),
			 "from", str_or_null(p->from), "through", str_or_null(p->through),
			 "min_count", (json_int_t)p->min_count);
	if (!root)
		return oom(p);
	if (!p->npaths) {
		err = json_object_set_new(root, "paths", json_array()) ? oom(p)
			: gate_json_print(p->ctx, root);
		json_decref(root);
		return err;
	}
	head = json_dumps(root, flags);
	json_decref(root);
	if (!head)
		return oom(p);
	/* head ends in "\n}": continue the object with the paths array */
	head[strlen(head) - 2] = '\0';
	if (printf("%s,\n  \"paths\": [\n    ", head) < 0)
		err = -EIO;
	free(head);
	for (size_t i = 0; i < p->npaths && !err; i++) {
		json_t *o = paths_json_path(p, &p->paths[i]);
		text = o ? json_dumps(o, flags) : NULL;
		json_decref(o);
		if (!text)
			return oom(p);
		err = paths_put_indented(text, "    ");
		free(text);
		if (!err && fputs(i + 1 < p->npaths ? ",\n    " : "\n  ]\n}\n", stdout) == EOF)
			err = -EIO;
	}
	if (err)
		return gate_fail(p->ctx, err, "cannot write output: %s", strerror(-err));
	return 0;
}

/* "PATH 1  gw → web → api  count 90  weakest thread  [cycle]" */
static void paths_table_head(const struct paths *p, size_t i)
{
	const struct paths_path *path = &p->paths[i];
	const char *sep = "  [";

	printf("PATH %zu  %s", i + 1, p->es.v[p->hop_node[path->first]].client);
	for (size_t h = path->first; h < path->first + path->n; h++)
		printf(" \xe2\x86\x92 %s", p->es.v[p->hop_node[h]].server);
	printf("  count %llu  weakest %s", (unsigned long long)path->count,
	       method_names[path->weakest]);
	if (path->cycle) {
		printf("%scycle", sep);
		sep = ", ";
	}
	if (path->truncated) {
		printf("%scut at %d hops", sep, PATHS_MAX_HOPS);
		sep = ", ";
	}
	if (!path->root) {
		printf("%snot from a root", sep);
		sep = ", ";
	}
	printf("%s\n", sep[0] == ',' ? "]" : "");
}

static int paths_table_block(const struct paths *p, size_t i)
{
	static const char *const heads[] = {
		"HOP", "CLIENT", "SERVER", "PROTO", "OPERATION", "LINKED", "METHOD",
		"REQS", "ERRS", "ERR%", "P50ms", "P90ms", "P99ms",
	};
	static const double qs[] = { 0.50, 0.90, 0.99 };
	const struct paths_path *path = &p->paths[i];
	struct gate_table t;
	int err = 0;

	gate_table_init(&t, heads, "rllllrlrrrrrr", 13);
	for (size_t h = path->first; h < path->first + path->n && !err; h++) {
		const struct gate_edge *e = &p->es.v[p->hop_node[h]];
		char hop[16], proto[64], op[256], linked[24], method[64];
		char reqs[24], errs[24], rate[24], q[3][32];
		snprintf(hop, sizeof(hop), "%zu", h - path->first + 1);
		snprintf(proto, sizeof(proto), "%s%s", e->protocol, e->tls ? "+tls" : "");
		gate_cell_op(e->operation, op, sizeof(op));
		if (p->hop_link[h] == PATHS_NONE) {
			snprintf(linked, sizeof(linked), "-");
			snprintf(method, sizeof(method), "-");
		} else {
			const struct paths_link *l = &p->links[p->hop_link[h]];
			snprintf(linked, sizeof(linked), "%llu", (unsigned long long)l->count);
			link_methods_str(l, method, sizeof(method));
		}
		snprintf(reqs, sizeof(reqs), "%llu", (unsigned long long)e->stats.requests);
		snprintf(errs, sizeof(errs), "%llu", (unsigned long long)e->stats.errors);
		snprintf(rate, sizeof(rate), "%.2f", 100.0 * gate_error_rate(&e->stats));
		for (int k = 0; k < 3; k++) {
			double v = 0;
			bool have = gate_quantile_ms(&e->stats, qs[k], &v);
			gate_ms_str(have, v, q[k], sizeof(q[k]));
		}
		const char *row[] = { hop, e->client, e->server, proto, op, linked,
				      method, reqs, errs, rate, q[0], q[1], q[2] };
		err = gate_table_row(&t, row);
	}
	if (!err) {
		paths_table_head(p, i);
		gate_table_print(&t, stdout);
	}
	gate_table_release(&t);
	return err;
}

static int paths_table(struct paths *p)
{
	size_t by[PM_COUNT] = { 0 }, cycles = 0, cut = 0;
	int err;

	if (!p->npaths) {
		printf("no call paths\n");
		return 0;
	}
	for (size_t i = 0; i < p->npaths; i++) {
		if (i)
			putchar('\n');
		if ((err = paths_table_block(p, i)))
			return gate_fail(p->ctx, err, "out of memory");
		by[p->paths[i].weakest]++;
		cycles += p->paths[i].cycle;
		cut += p->paths[i].truncated;
	}
	printf("\npaths: %zu (weakest link: %zu thread, %zu traceparent, %zu trace",
	       p->npaths, by[PM_THREAD], by[PM_TRACEPARENT], by[PM_TRACE]);
	if (by[PM_UNKNOWN])
		printf(", %zu unknown", by[PM_UNKNOWN]);
	printf("; %zu with a cycle, %zu cut at %d hops)\n", cycles, cut, PATHS_MAX_HOPS);
	return 0;
}

static void paths_release(struct paths *p)
{
	gate_edges_release(&p->es);
	gate_idmap_release(&p->node_at);
	free(p->nodes);
	free(p->by_rank);
	free(p->links);
	free(p->paths);
	free(p->hop_node);
	free(p->hop_link);
}

/* Resolve --from and --through; unknown names are an input error. */
static int paths_services(struct paths *p)
{
	struct gate_service svc;
	int err;

	if (p->from) {
		if ((err = gate_service_find(p->ctx, p->from, &svc)))
			return err;
		p->from_id = svc.id;
	}
	if (p->through) {
		if ((err = gate_service_find(p->ctx, p->through, &svc)))
			return err;
		p->through_id = svc.id;
	}
	return 0;
}

static int paths_compute(struct paths *p)
{
	int err;

	if ((err = paths_services(p)) || (err = paths_have_table(p)))
		return err;
	if (!p->have_table) {
		/* a store from before call paths: nothing to list, say why */
		fprintf(stderr, "gatectl: note: '%s' has no call-path links "
			"(schema before 3)\n", p->ctx->db_path);
		return 0;
	}
	if ((err = paths_read_links(p)) || (err = paths_build(p)) ||
	    (err = paths_find(p)))
		return err;
	if ((err = paths_stats(p)))
		return err;
	if (p->npaths)
		qsort_r(p->paths, p->npaths, sizeof(*p->paths), path_cmp, p);
	return 0;
}

static int paths_opts(struct paths *p, int argc, char **argv,
		      int64_t *since, int64_t *until)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		{ "from", required_argument, NULL, 'f' },
		{ "through", required_argument, NULL, 't' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "min-count", required_argument, NULL, 'm' },
		{ 0 }
	};
	struct gate_ctx *ctx = p->ctx;
	int c, err;

	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, paths_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
		if (err)
			continue;
		if (c == 's' || c == 'u')
			err = gate_time_arg(ctx, c == 's' ? "--since" : "--until",
					    optarg, c == 's' ? since : until);
		else if (c == 'm')
			err = gate_parse_u64(ctx, "--min-count", optarg, &p->min_count);
		else if ((c == 'f' && p->from) || (c == 't' && p->through))
			err = gate_fail(ctx, -EINVAL, "'%s' given more than once",
					c == 'f' ? "--from" : "--through");
		else if (c == 'f')
			p->from = optarg;
		else
			p->through = optarg;
		if (err)
			return err;
	}
	if ((err = gate_no_args(ctx, argc, argv)))
		return err;
	if (*since != INT64_MIN && *until != INT64_MAX && *until <= *since)
		return gate_fail(ctx, -EINVAL, "'--until' must be after '--since'");
	if (!p->min_count)
		p->min_count = 1;	/* a link without requests is no link */
	return 0;
}

static int paths_run(struct gate_ctx *ctx, int argc, char **argv)
{
	int64_t since = INT64_MIN, until = INT64_MAX;
	struct paths p = { .ctx = ctx, .min_count = 1 };
	int err;

	err = paths_opts(&p, argc, argv, &since, &until);
	if (err)
		return err;
	if ((err = gate_open(ctx)))
		goto out_release;
	p.range = gate_range_make(since, until);
	if ((err = paths_compute(&p)))
		goto out_release;
	err = ctx->fmt == GATE_FMT_JSON ? paths_json(&p, gate_range_since(since), until)
					: paths_table(&p);
out_release:
	paths_release(&p);
	return err;
}

const struct gate_cmd gate_cmd_paths = {
	.name = "paths",
	.summary = "multi-hop call paths with link counts and latency per hop",
	.run = paths_run,
	.store = GATE_CMD_READS,
	.formats = GATE_FMTS_TABLE_JSON,
	.no_prometheus = "call-path links (which request caused which) are in "
			 "the agents' stores only, never exported to Prometheus",
};
