"""What ``int360 --help`` and ``int360 COMMAND --help`` say: a one-line summary, a
description, examples and exit codes for every command. Text only; the parser
attaches it."""

from __future__ import annotations

import argparse
from typing import NamedTuple


class CommandHelp(NamedTuple):
    """The help of one command."""

    summary: str  # one line, in the list of commands
    description: str
    examples: tuple[str, ...]
    exits: tuple[tuple[int, str], ...]

    def epilog(self) -> str:
        """Examples and exit codes, preformatted."""
        lines = ["examples:"]
        lines += [f"  {example}" for example in self.examples]
        lines += ["", "exit codes:"]
        lines += [f"  {code:<3} {meaning}" for code, meaning in self.exits]
        return "\n".join(lines)


USAGE_EXIT = (64, "usage error (a bad option or value)")

PROGRAM = CommandHelp(
    "int360",
    "Biller settings for the CRM as code: validate biller and partner files, see what "
    "they would change in the CRM (plan), and make the CRM match them (apply).",
    (
        "int360 validate                    check every file",
        "int360 billers --partner bsa       the CRM's BS&A billers beside the files",
        "int360 new 104233                  start a biller file from its CRM profile",
        "int360 plan                        what apply would change",
        "int360 apply --yes                 make the CRM match the repository",
        "int360 COMMAND --help              one command's options",
    ),
    (
        (0, "success, or nothing to do"),
        (1, "invalid files, or a failure (the message says which)"),
        (2, "differences found (diff, plan, drift)"),
        (3, "apply refused by the guard (--max-billers)"),
        USAGE_EXIT,
    ),
)

COMMANDS: dict[str, CommandHelp] = {
    "validate": CommandHelp(
        "check files against the schemas and rules",
        "Check biller and partner files: YAML, schemas, file names, partners, integrator "
        "IDs, locks, the merge and the cross-field rules. Every problem is reported as "
        "PATH:LINE:COL: error[RULE]: message. With paths, those files are checked with "
        "what they need (their partner, _defaults).",
        (
            "int360 validate",
            "int360 validate billers/104233.yaml",
            "int360 validate --format github     annotations on a pull request",
        ),
        ((0, "valid"), (1, "problems found"), USAGE_EXIT),
    ),
    "render": CommandHelp(
        "show a biller's merged settings (or its live ones with --live)",
        "Print the settings a biller gets from _defaults, its partner and its overrides. "
        "--explain names the file and line of every value; --live prints what the CRM "
        "holds now instead (secrets by name only).",
        (
            "int360 render 104233",
            "int360 render 104233 --explain",
            "int360 render 104233 --live --format json",
        ),
        (
            (0, "printed"),
            (1, "no such biller, its files are invalid, or the CRM failed"),
            USAGE_EXIT,
        ),
    ),
    "partners": CommandHelp(
        "list partners, their integrator IDs and biller counts",
        "One line per partner file: slug, name, integrator IDs, and how many biller files "
        "name it. For the CRM's side, see int360 billers.",
        ("int360 partners", "int360 partners | grep -i caselle"),
        ((0, "printed"), (1, "the repository cannot be read"), USAGE_EXIT),
    ),
    "billers": CommandHelp(
        "the CRM's biller profiles beside the files",
        "List the CRM's biller profiles beside the biller files: managed (file and "
        "profile agree), unmanaged (a profile carrying a partner's integrator ID, no file), "
        "no-profile (a file the CRM does not know), mismatch (the profile is on another "
        "integrator ID; the hint says where to fix it) and inactive profiles, with counts "
        "per partner. Filters combine.",
        (
            "int360 billers --partner caselle-batch-utility --unmanaged",
            "int360 billers --integrator-id 201",
            'int360 billers --name "water"',
            "int360 billers --format markdown > billers.md",
        ),
        ((0, "printed"), (1, "the CRM failed or the repository cannot be read"), USAGE_EXIT),
    ),
    "new": CommandHelp(
        "start a biller file from its CRM profile",
        "Write billers/BID.yaml from the biller's CRM profile: its name, its partner (from "
        "the profile's integrator ID, or --partner), integrator_id where the partner has "
        "several, and every field the merge still needs as an empty value with its "
        "description. Then validate it and say what is left to fill.",
        ("int360 new 104233", "int360 new 104233 --partner caselle-batch-utility"),
        (
            (0, "written and valid"),
            (1, "written, with fields still to fill; or not written (the message says why)"),
            USAGE_EXIT,
        ),
    ),
    "secrets": CommandHelp(
        "each referenced secret: set in the CRM? available from the source? (no values)",
        "For every secret the scope's biller files reference: the billers and paths using "
        "it, whether the CRM already holds it, and whether the configured secret source "
        "(INT360_SECRET_SOURCE: the environment, or Azure Key Vault) can provide it. A "
        "pre-flight for onboarding: a value is read only to check it exists, and never "
        "printed.",
        (
            "int360 secrets",
            "int360 secrets --bid 104233",
            "int360 secrets --partner caselle-batch-utility --format json",
        ),
        (
            (0, "every secret a write needs is available"),
            (1, "a needed secret is missing or unreadable, or the CRM failed"),
            USAGE_EXIT,
        ),
    ),
    "diff": CommandHelp(
        "merged settings at a git revision vs the working tree (no CRM)",
        "For every affected biller, the settings that differ between GITREF and the "
        "working tree, from git alone: the review view when no CRM is reachable, and the "
        "fan-out of a partner change.",
        ("int360 diff", "int360 diff --base origin/main --format markdown"),
        ((0, "no differences"), (2, "differences"), (1, "an error"), USAGE_EXIT),
    ),
    "plan": CommandHelp(
        "show what apply would change in the CRM",
        "Compare each biller's desired settings with the CRM's live ones. Identical changes "
        "are grouped; billers are listed one by one up to 20 (-v: all; --out writes the "
        "JSON plan that apply --plan executes). Talks to INT360_CRM_URL, else the embedded "
        "sandbox.",
        (
            "int360 plan",
            "int360 plan --partner bsa -v",
            "int360 plan --changed-since origin/main --format markdown --out plan.json",
        ),
        ((0, "no changes"), (2, "changes"), (1, "errors in the plan or a failure"), USAGE_EXIT),
    ),
    "apply": CommandHelp(
        "make the CRM match the repository",
        "Plan, then write every biller that changes: one conditional PATCH each, "
        "concurrently, with an audit note. Refuses more than --max-billers changes "
        "(the embedded sandbox is exempt). With --plan, executes a saved plan and skips "
        "billers that moved since.",
        (
            "int360 apply --yes",
            "int360 apply --bid 104233",
            "int360 apply --plan plan.json --yes --report report.json",
        ),
        (
            (0, "everything applied or unchanged"),
            (1, "a biller failed or was stale, or not confirmed"),
            (3, "refused by the guard; nothing written"),
            USAGE_EXIT,
        ),
    ),
    "drift": CommandHelp(
        "plan every biller and report what changed in the CRM",
        "The nightly check: a plan over every biller. --adopt rewrites drifted billers' "
        "files to the live values (minimal overrides), to accept a change made in the CRM.",
        ("int360 drift", "int360 drift --adopt"),
        ((0, "no drift"), (2, "drift"), (1, "an error"), USAGE_EXIT),
    ),
    "import": CommandHelp(
        "write biller files from the CRM's live settings",
        "Write billers/<bid>.yaml with the minimal overrides that reproduce each biller's "
        "live settings, so that plan shows no change for it.",
        ("int360 import 104233", "int360 import --integrator-id 201"),
        ((0, "written"), (1, "a biller could not be imported"), USAGE_EXIT),
    ),
    "comment": CommandHelp(
        "render a GitHub comment, summary, issue or PR body from JSON reports",
        "What the workflows post, made from the JSON that plan, diff, validate, apply and "
        "drift write: KIND is pr, apply-summary, apply-issue, apply-pr-note, drift-issue "
        "or adopt-body. Every body stays within GitHub's 65,536 characters.",
        (
            "int360 comment pr --plan plan.json --diff diff.json --plan-state changes",
            "int360 comment apply-summary --report report.json --exit-code 0",
        ),
        ((0, "printed"), (1, "a report file is not JSON"), USAGE_EXIT),
    ),
    "sandbox": CommandHelp(
        "the sandbox CRM (serve it, edit it)",
        "A local CRM over SQLite that implements the whole API, for trying things out and "
        "for tests; set and profile edit it as a person would edit the CRM (the embedded "
        "sandbox unless --db names another). Each subcommand's --help has more.",
        (
            "int360 sandbox serve --port 8360",
            "int360 sandbox set 104233 data_pump.schedule='0 7 * * 1-5'",
            "int360 sandbox profile 104299 --name 'Elm Water' --integrator-id 201",
        ),
        (
            (0, "done (serve: stopped cleanly)"),
            (1, "refused or could not start"),
            USAGE_EXIT,
        ),
    ),
}


class Formatter(argparse.HelpFormatter):
    """Wraps a description; keeps preformatted text (examples, exit codes) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def attach(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` (``int360``) and each of its commands their summary,
    description, examples and exit codes."""
    _set(parser, PROGRAM)
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for listed in action._choices_actions:  # the one-line summaries of the list
            found = COMMANDS.get(listed.dest)
            if found is not None:
                listed.help = found.summary
        for name, sub in action.choices.items():
            found = COMMANDS.get(name)
            if found is not None:
                _set(sub, found)


def _set(parser: argparse.ArgumentParser, found: CommandHelp) -> None:
    parser.description = found.description
    parser.epilog = found.epilog()
    parser.formatter_class = Formatter
