// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstock completion bash: the bash completion of penstock and penstockd,
 * made from the tables they parse their command lines by: main.c's
 * commands, each command's option rows (opts.h) with the choices of its
 * choice options, and penstockd's getopt table (common/daemon_opts.h).
 * make writes it to .output/completion/penstock; make install puts it
 * where bash-completion finds it for both commands.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "common/daemon_opts.h"

static const char completion_usage[] =
	"usage: penstock completion bash\n"
	"\n"
	"Print the bash completion of penstock and penstockd: commands, options,\n"
	"the choices of --sort, --window and --format, files after --config,\n"
	"--socket and --secret and for replay's captures, directories after\n"
	"penstockd's --state-dir and --pin-dir, groups after --socket-group.\n"
	"\n"
	PS_HELP_HELP
	"\n"
	"examples:\n"
	"  source <(penstock completion bash)\n"
	"  penstock completion bash > /etc/bash_completion.d/penstock\n"
	"\n"
	"exit status: 0 ok, 2 bad usage\n";

const struct ps_cmd_opts ps_cmd_completion_opts = {
	"completion", completion_usage, PS_OPTS_ARGS, NULL,
};

/* Options whose value is a file. */
static bool names_file(const char *name)
{
	return !strcmp(name, "config") || !strcmp(name, "socket") || !strcmp(name, "secret");
}

static void option_values(const struct ps_opt *o)
{
	int i;

	printf("\t\t--%s", o->name);
	if (o->key > ' ' && o->key < 127)
		printf("|-%c", o->key);
	printf(")\n");
	if (o->type == PS_OPT_CHOICE) {
		printf("\t\t\tCOMPREPLY=($(compgen -W \"");
		for (i = 0; o->choices[i]; i++)
			printf("%s%s", i ? " " : "", o->choices[i]);
		printf("\" -- \"$cur\"))\n");
	} else if (o->type == PS_OPT_STRING && names_file(o->name)) {
		printf("\t\t\tcompopt -o filenames 2>/dev/null\n"
		       "\t\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n");
	}
	printf("\t\t\treturn ;;\n");
}

static void command(const struct ps_command *c)
{
	const struct ps_cmd_opts *co = c->opts;
	const struct ps_opt *o;
	static const struct ps_opt socket_row = { .name = "socket", .key = 's',
						  .type = PS_OPT_STRING };

	printf("\t%s)\n\t\tcase $prev in\n", c->name);
	for (o = co && co->opts ? co->opts : NULL; o && o->name; o++)
		if (o->type != PS_OPT_FLAG)
			option_values(o);
	if (co && (co->flags & PS_OPTS_SOCKET))
		option_values(&socket_row);
	printf("\t\tesac\n\t\topts=\"");
	for (o = co && co->opts ? co->opts : NULL; o && o->name; o++)
		printf("--%s ", o->name);
	if (co && (co->flags & PS_OPTS_SOCKET))
		printf("--socket ");
	if (co && (co->flags & PS_OPTS_JSON))
		printf("--json ");
	printf("--help\"\n");
	if (c->args && !strcmp(c->args, "files"))
		printf("\t\tfiles=1\n");
	if (!strcmp(c->name, "completion"))
		printf("\t\twords=bash\n");
	printf("\t\t;;\n");
}

static void penstock(void)
{
	size_t i;

	printf("_penstock()\n{\n"
	       "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
	       "\tlocal opts=\"\" files=0 words=\"\"\n"
	       "\tCOMPREPLY=()\n"
	       "\tif ((COMP_CWORD == 1)); then\n"
	       "\t\tCOMPREPLY=($(compgen -W \"");
	for (i = 0; i < ps_ncommands; i++)
		if (ps_commands[i].summary)
			printf("%s ", ps_commands[i].name);
	printf("help\" -- \"$cur\"))\n\t\treturn\n\tfi\n\tcase ${COMP_WORDS[1]} in\n");
	for (i = 0; i < ps_ncommands; i++)
		if (ps_commands[i].summary)
			command(&ps_commands[i]);
	printf("\t*)\n\t\treturn ;;\n\tesac\n"
	       "\tif [[ $cur == -* ]]; then\n"
	       "\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
	       "\telif ((files)); then\n"
	       "\t\tcompopt -o filenames 2>/dev/null\n"
	       "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	       "\telif [ -n \"$words\" ] && ((COMP_CWORD == 2)); then\n"
	       "\t\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
	       "\tfi\n}\ncomplete -F _penstock penstock\n\n");
}

static void penstockd(void)
{
	const struct option *o;

	printf("_penstockd()\n{\n"
	       "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
	       "\tCOMPREPLY=()\n\tcase $prev in\n");
	for (o = ps_daemon_longopts; o->name; o++) {
		const char *n = o->name;
		size_t len = strlen(n);

		if (o->has_arg != required_argument)
			continue;
		printf("\t--%s|-%c)\n", n, o->val);
		if (len > 4 && !strcmp(n + len - 4, "-dir"))
			printf("\t\tcompopt -o filenames 2>/dev/null\n"
			       "\t\tCOMPREPLY=($(compgen -d -- \"$cur\"))\n");
		else if (len > 5 && !strcmp(n + len - 5, "group"))
			printf("\t\tCOMPREPLY=($(compgen -g -- \"$cur\"))\n");
		else
			printf("\t\tcompopt -o filenames 2>/dev/null\n"
			       "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n");
		printf("\t\treturn ;;\n");
	}
	printf("\tesac\n\tCOMPREPLY=($(compgen -W \"");
	for (o = ps_daemon_longopts; o->name; o++)
		printf("%s--%s", o == ps_daemon_longopts ? "" : " ", o->name);
	printf("\" -- \"$cur\"))\n}\ncomplete -F _penstockd penstockd\n");
}

int ps_cmd_completion(int argc, char **argv)
{
	struct ps_opts_common o = {};
	int ret = ps_opts_parse(&ps_cmd_completion_opts, argc, argv, &o);

	if (ret >= 0)
		return ret;
	if (o.argi != argc - 1 || strcmp(argv[o.argi], "bash"))
		return ps_opts_usage_error(&ps_cmd_completion_opts, "expected 'bash'");
	printf("# bash completion of penstock and penstockd: penstock completion bash\n"
	       "# (made from the tables the commands read their command lines by)\n\n");
	penstock();
	penstockd();
	return fflush(stdout) ? PS_EXIT_FAIL : PS_EXIT_OK;
}
