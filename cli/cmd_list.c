/* SPDX-License-Identifier: GPL-2.0-or-later */
/* strata list: vzlist's options and columns. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "ksal/cleanup.h"

const struct cli_list_field cli_list_fields[] = {
	{ "ctid", "CTID", 10, true, true },
	{ "numproc", "NPROC", 10, true, true },
	{ "status", "STATUS", 9, false, false },
	{ "ip", "IP_ADDR", 15, false, false },
	{ "hostname", "HOSTNAME", 20, false, false },
	{ "name", "NAME", 10, false, false },
	{ "description", "DESCRIPTION", 15, false, false },
	{ "ostemplate", "OSTEMPLATE", 20, false, false },
	{ "layout", "LAYOUT", 6, false, false },
	{ "private", "PRIVATE", 30, false, false },
	{ "root", "ROOT", 30, false, false },
	{ "onboot", "ONBOOT", 6, false, false },
	{ "bootorder", "BOOTORDER", 9, true, true },
	{ "pid", "PID", 8, true, true },
	{ "uptime", "UPTIME", 10, true, true },
	{ "ram", "RAM", 8, true, true },
	{ "swap", "SWAP", 8, true, true },
	{ "physpages", "PHYSPAGES", 10, true, true },
	{ "physpages_used", "PHYSPAGES.U", 11, true, true },
	{ "swappages", "SWAPPAGES", 10, true, true },
	{ "memguarantee", "MEMGUAR", 8, true, true },
	{ "memory_merge", "MEM_MERGE", 9, false, false },
	{ "cpus", "CPUS", 5, true, true },
	{ "cpuunits", "CPUUNITS", 8, true, true },
	{ "cpulimit", "CPULIM", 6, true, true },
	{ "cpumask", "CPUMASK", 10, false, false },
	{ "numproc_limit", "NPROC_LIM", 10, true, true },
	{ "ioprio", "IOPRIO", 6, true, true },
	{ "iolimit", "IOLIMIT", 10, true, true },
	{ "iopslimit", "IOPSLIMIT", 10, true, true },
	{ "diskspace", "DQBLOCKS", 10, true, true },
	{ "diskspace_limit", "DISKSPACE", 12, false, false },
	{ "stop_timeout", "STOP_TIMEOUT", 12, true, true },
	{ "capability", "CAPABILITY", 20, false, false },
	{ "privileged", "PRIVILEGED", 10, false, false },
	{ "nesting", "NESTING", 7, false, false },
	{ "netif", "NETIF", 20, false, false },
	{ "network_mode", "NETMODE", 8, false, false },
	{ "nameserver", "NAMESERVER", 15, false, false },
	{ "searchdomain", "SEARCHDOMAIN", 15, false, false },
	{ "id_base", "ID_BASE", 10, true, true },
	{ "template_mount", "TEMPLATE_MOUNT", 30, false, false },
	/* accounting (resources area, issue 5): null while stopped */
	{ "cpu", "CPU_SEC", 9, true, true },
	{ "cpupct", "CPU%", 6, true, true },
	{ "mem", "MEM_BYTES", 12, true, true },
	{ "maxmem", "MAXMEM_BYTES", 12, true, true },
	{ "failcnt", "FAILCNT", 8, true, true },
	{ "oomkills", "OOMKILLS", 8, true, true },
	{ "swapused", "SWAP_BYTES", 12, true, true },
	{ "iobytes", "IO_BYTES", 12, true, true },
	{ "ioops", "IO_OPS", 10, true, true },
	{ "ksm_pages", "KSM_PAGES", 10, true, true },
	{ NULL, NULL, 0, false, false },
};

static const char *const default_fields[] = { "ctid", "numproc", "status", "ip", "hostname", NULL };
static const char *const default_name_fields[] = {
	"ctid", "numproc", "status", "ip", "name", NULL
};

const struct cli_list_field *cli_list_field_find(const char *name)
{
	for (const struct cli_list_field *f = cli_list_fields; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	if (strcmp(name, "veid") == 0)
		return &cli_list_fields[0];
	return NULL;
}

void cli_list_fields_print(FILE *out)
{
	for (const struct cli_list_field *f = cli_list_fields; f->name; f++)
		fprintf(out, "%-16s %s\n", f->name, f->header);
}

static const struct cli_opt list_opts[] = {
	{ "all", 'a', false },	{ "stopped", 'S', false },   { "output", 'o', true },
	{ "sort", 's', true },	{ "no-header", 'H', false }, { "list", 'L', false },
	{ "name", 'n', false }, { NULL, 0, false },
};

static char **strv_from_const(const char *const *src)
{
	size_t n = 0;
	char **v;

	while (src[n])
		n++;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		v[i] = strdup(src[i]);
		if (!v[i]) {
			strv_free(v);
			return NULL;
		}
	}
	return v;
}

static int list_parse(struct cli_cmd *cmd, int argc, char **argv, struct st_error **err)
{
	struct cli_args a;
	const struct cli_opt *o;
	const char *val;
	json_t *args;
	bool names = false;
	int r;

	args = cli_req_new(cmd, "list", NULL);
	if (!args)
		return st_error_set(err, ENOMEM, "list");
	cli_args_init(&a, "list", argc, argv);
	while ((r = cli_args_next(&a, cmd, list_opts, &o, &val, err)) > 0) {
		if (r == CLI_ARG_POS) {
			_cleanup_free_ char *id = NULL;

			r = cli_ctid_check("list", val, &id, err);
			if (r < 0)
				return r;
			if (cli_strv_push(&cmd->filter, id) < 0)
				return st_error_set(err, ENOMEM, "list");
			continue;
		}
		switch (o->short_name) {
		case 'a':
			json_object_set_new(args, "all", json_true());
			break;
		case 'S':
			json_object_set_new(args, "stopped", json_true());
			break;
		case 'H':
			cmd->no_header = true;
			break;
		case 'L':
			cmd->action = CLI_LIST_FIELDS;
			break;
		case 'n':
			names = true;
			break;
		case 's':
			free(cmd->sort);
			cmd->sort_desc = val[0] == '-';
			cmd->sort = strdup(val + (val[0] == '-'));
			if (!cmd->sort)
				return st_error_set(err, ENOMEM, "list");
			if (!cli_list_field_find(cmd->sort))
				return st_error_setx(
					err, ST_EXIT_BADARG, 0,
					"list: unknown field `%s` in --sort (strata list -L lists them)",
					cmd->sort);
			break;
		case 'o': {
			_cleanup_free_ char *copy = strdup(val);
			char *save = NULL;

			if (!copy)
				return st_error_set(err, ENOMEM, "list");
			strv_free(cmd->fields);
			cmd->fields = NULL;
			for (char *f = strtok_r(copy, ",", &save); f;
			     f = strtok_r(NULL, ",", &save)) {
				if (!cli_list_field_find(f))
					return st_error_setx(
						err, ST_EXIT_BADARG, 0,
						"list: unknown field `%s` in --output (strata list -L lists them)",
						f);
				if (cli_strv_push(&cmd->fields, f) < 0)
					return st_error_set(err, ENOMEM, "list");
			}
			if (!cmd->fields)
				return st_error_setx(err, ST_EXIT_BADARG, 0,
						     "list: --output needs at least one field");
			break;
		}
		}
	}
	if (r < 0)
		return r;
	/* a CTID named on the command line is shown whatever its state */
	if (cmd->filter && !json_object_get(args, "stopped"))
		json_object_set_new(args, "all", json_true());
	/* the private areas' usage is walked only when shown (templates area) */
	{
		bool du = (cmd->sort && !strcmp(cmd->sort, "diskspace")) ||
			  (!cmd->fields && cmd->json && !names);

		for (char **f = cmd->fields; f && *f && !du; f++)
			du = !strcmp(*f, "diskspace");
		if (du)
			json_object_set_new(args, "diskspace", json_true());
	}
	/* -j without -o prints whole objects */
	if (!cmd->fields && (!cmd->json || names)) {
		cmd->fields = strv_from_const(names ? default_name_fields : default_fields);
		if (!cmd->fields)
			return st_error_set(err, ENOMEM, "list");
	}
	return 0;
}

/* The text of one cell: "-" for a missing or empty value. */
static char *cell_text(json_t *v)
{
	char *s = NULL;

	if (!v)
		return strdup("-");
	switch (json_typeof(v)) {
	case JSON_STRING:
		s = strdup(json_string_length(v) ? json_string_value(v) : "-");
		break;
	case JSON_INTEGER:
		if (asprintf(&s, "%lld", (long long)json_integer_value(v)) < 0)
			s = NULL;
		break;
	case JSON_REAL:
		if (asprintf(&s, "%g", json_real_value(v)) < 0)
			s = NULL;
		break;
	case JSON_TRUE:
		s = strdup("yes");
		break;
	case JSON_FALSE:
		s = strdup("no");
		break;
	case JSON_ARRAY: {
		size_t i;
		json_t *e;
		char *joined = NULL;

		json_array_foreach (v, i, e) {
			_cleanup_free_ char *t = cell_text(e);
			char *n = NULL;

			if (!t)
				break;
			if (asprintf(&n, "%s%s%s", joined ? joined : "", joined ? " " : "", t) < 0)
				n = NULL;
			free(joined);
			joined = n;
			if (!joined)
				break;
		}
		s = joined ? joined : strdup("-");
		break;
	}
	default:
		s = strdup("-");
		break;
	}
	return s;
}

static json_t *ct_field(json_t *ct, const char *name)
{
	json_t *v = json_object_get(ct, name);

	if (!v && strcmp(name, "ctid") == 0)
		v = json_object_get(ct, "veid");
	return v;
}

struct sort_item {
	json_t *ct;
	size_t idx;
};

static const char *sort_field;
static bool sort_desc_flag;

/* Numbers as numbers, missing values first, then strings. */
static int value_cmp(json_t *a, json_t *b)
{
	_cleanup_free_ char *sa = NULL, *sb = NULL;
	char *ea, *eb;
	double da, db;

	if (!a || json_is_null(a))
		return (!b || json_is_null(b)) ? 0 : -1;
	if (!b || json_is_null(b))
		return 1;
	sa = cell_text(a);
	sb = cell_text(b);
	if (!sa || !sb)
		return 0;
	da = strtod(sa, &ea);
	db = strtod(sb, &eb);
	if (*sa && *sb && *ea == '\0' && *eb == '\0')
		return da < db ? -1 : da > db ? 1 : 0;
	return strcmp(sa, sb);
}

static int sort_cmp(const void *pa, const void *pb)
{
	const struct sort_item *a = pa, *b = pb;
	int c = value_cmp(ct_field(a->ct, sort_field), ct_field(b->ct, sort_field));

	if (c != 0)
		return sort_desc_flag ? -c : c;
	/* ties: by CTID, then as the daemon sent them */
	c = value_cmp(ct_field(a->ct, "ctid"), ct_field(b->ct, "ctid"));
	if (c != 0)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static bool filter_match(const struct cli_cmd *cmd, json_t *ct)
{
	if (!cmd->filter)
		return true;
	_cleanup_free_ char *id = cell_text(ct_field(ct, "ctid"));
	const char *name = json_string_value(json_object_get(ct, "name"));

	for (char **f = cmd->filter; *f; f++)
		if ((id && strcmp(*f, id) == 0) || (name && strcmp(*f, name) == 0))
			return true;
	return false;
}

/* "a b c" of a NULL-terminated vector; NULL without memory. */
static char *words_join(char **v)
{
	size_t len = 1;
	char *s, *p;

	for (char **w = v; *w; w++)
		len += strlen(*w) + 1;
	s = p = malloc(len);
	if (!s)
		return NULL;
	*p = '\0';
	for (char **w = v; *w; w++) {
		if (p != s)
			*p++ = ' ';
		p = stpcpy(p, *w);
	}
	return s;
}

static void print_cell(FILE *out, const struct cli_list_field *f, const char *text, bool last)
{
	if (last && !f->right)
		fputs(text, out);
	else
		fprintf(out, f->right ? "%*s" : "%-*s", f->width, text);
	fputc(last ? '\n' : ' ', out);
}

int cli_list_print(FILE *out, const struct cli_cmd *cmd, json_t *result, struct st_error **err)
{
	json_t *cts = json_object_get(result, "containers");
	_cleanup_free_ struct sort_item *items = NULL;
	size_t n = 0, i;
	json_t *ct;
	char **fields = cmd->fields;
	_cleanup_strv_ char **defaults = NULL;

	if (!fields && !cmd->json) {
		defaults = strv_from_const(default_fields);
		if (!defaults)
			return st_error_set(err, ENOMEM, "list");
		fields = defaults;
	}

	if (!json_is_array(cts))
		return st_error_setx(err, ST_EXIT_PROTOCOL, 0,
				     "malformed reply from stratad: no \"containers\" array");
	items = calloc(json_array_size(cts) + 1, sizeof(*items));
	if (!items)
		return st_error_set(err, ENOMEM, "list");
	json_array_foreach (cts, i, ct) {
		if (!json_is_object(ct) || !filter_match(cmd, ct))
			continue;
		items[n].ct = ct;
		items[n].idx = n;
		n++;
	}
	/* vzlist: CTIDs named and none of them there is an error, not an
	 * empty table */
	if (cmd->filter && n == 0) {
		_cleanup_free_ char *names = words_join(cmd->filter);

		return st_error_setx(err, ST_EXIT_NOCONFIG, 0, "Container(s) not found: %s",
				     names ? names : cmd->filter[0]);
	}
	sort_field = cmd->sort ? cmd->sort : "ctid";
	sort_desc_flag = cmd->sort_desc;
	qsort(items, n, sizeof(*items), sort_cmp);

	if (cmd->json) {
		json_t *arr = json_array();

		for (i = 0; i < n; i++) {
			json_t *obj = json_object();

			if (!fields) {
				json_array_append(arr, items[i].ct);
				json_decref(obj);
				continue;
			}

			for (char **f = fields; f && *f; f++) {
				json_t *v = ct_field(items[i].ct, *f);
				json_object_set(obj, *f, v ? v : json_null());
			}
			json_array_append_new(arr, obj);
		}
		json_dumpf(arr, out, CLI_JSON_FLAGS);
		fputc('\n', out);
		json_decref(arr);
		return 0;
	}

	if (!cmd->no_header) {
		for (char **f = fields; *f; f++) {
			const struct cli_list_field *lf = cli_list_field_find(*f);
			print_cell(out, lf, lf->header, !f[1]);
		}
	}
	for (i = 0; i < n; i++) {
		for (char **f = fields; *f; f++) {
			const struct cli_list_field *lf = cli_list_field_find(*f);
			_cleanup_free_ char *t = cell_text(ct_field(items[i].ct, *f));

			print_cell(out, lf, t ? t : "-", !f[1]);
		}
	}
	return 0;
}

static int list_run(struct cli_cmd *cmd, struct st_error **err)
{
	json_t *res = NULL;
	int r;

	r = cli_call(cmd, NULL, 0, &res, err);
	if (r < 0)
		return r;
	r = cli_list_print(stdout, cmd, res, err);
	json_decref(res);
	return r < 0 ? r : 0;
}

const struct cli_verb cli_verb_list = {
	.name = "list",
	.aliases = { "vzlist" },
	.summary = "list containers (vzlist)",
	.usage =
		"strata list [-a | -S] [-o FIELD,...] [-s [-]FIELD] [-H] [-j] [-n] [CTID...]\n"
		"strata list -L\n"
		"\n"
		"  -a, --all          running and stopped containers (default: running only)\n"
		"  -S, --stopped      stopped containers only\n"
		"  -o, --output F,... the columns to show (default ctid,numproc,status,ip,hostname)\n"
		"  -s, --sort [-]F    sort by field F (by CTID by default); `-` reverses\n"
		"  -H, --no-header    no header line\n"
		"  -j, --json         a JSON array of objects with the chosen fields\n"
		"  -n, --name         show the NAME column instead of HOSTNAME\n"
		"  -L, --list         list the known fields and their column titles\n"
		"CTIDs or names given as arguments limit the list to them; none of them\n"
		"there is an error (\"Container(s) not found\", exit code 14).\n",
	.opts = list_opts,
	.parse = list_parse,
	.run = list_run,
};
