"""`agent batch`: extract and verify many models, and open pull requests with what is new."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from agent.batch.extraction import ExtractionOptions
from agent.batch.models import from_catalog, from_file, from_names, unique
from agent.batch.publishing import Backends
from agent.batch.runner import BatchRequest, run_batch
from agent.batch.summary import render_table
from agent.commands.options import add_sglang_source_arguments, positive_int
from agent.progress import Progress
from tools.errors import ExtractionError
from tools.model_registry.catalog import Catalog
from tools.publish.tokens import token_for

HELP = """\
Extract every model, verify what is new against FlashInfer, and turn each new definition
into a contribution bundle in the dataset's own layout: definitions/{op}/{name}.json, its
generated tests/references/test_{name}.py, its baseline solution under
solutions/baseline/{op}/{name}/, and workloads/traces only when you supply them
(--workloads). Existing definitions a model shares get its tags in one bundle per model.

A definition goes into a pull request only if it earned status:verified in this run (a
CUDA GPU with FlashInfer is needed for that); --allow-unverified opens a 🟡 draft instead.
Conflicts with the dataset are never proposed: they are listed with what differs.

--publish picks where bundles go: `local` (a branch per bundle in the dataset's git
repository), `hf` (Hugging Face dataset pull requests), `github` (flashinfer-bench pull
requests marking docs/model_coverage.mdx rows and linking the dataset pull request),
`hf+github` (the dataset's two-step procedure), or `none` (report only). Tokens are read
from the environment only: HF_TOKEN; GH_TOKEN, else GITHUB_TOKEN.

Runs are idempotent: a pull request already open for a bundle is found (by a marker in
its description, or its branch) and updated with a follow-up commit, never duplicated;
closed and merged ones are left alone. The run's state is kept in
DATASET/.agent/batch/<run>/state.json; after an interruption, the same command with
--resume continues (finished models are not extracted again)."""

EPILOG = """\
Exit status: 0 every bundle published or up to date (or nothing new), 3 some models
failed or some definitions were held back (unverified, pending, drafts), 4 only conflicts
were held back, 6 a remote failed a request (rerun with --resume), 2 bad input or a
missing/refused token (nothing done), 1 internal error, 130 interrupted."""

PUBLISH_CHOICES = {"none": [], "local": ["local"], "hf": ["hf"], "github": ["github"], "hf+github": ["hf", "github"]}


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("batch", help="extract, verify and open pull requests for many models", description=HELP, epilog=EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--models", metavar="M[,M]", help="comma-separated model names (see `agent models`)")
    which.add_argument("--models-file", metavar="FILE", help="one model per line: NAME [tp=N[,N]] [ep=N[,N]]; # comments")
    which.add_argument("--catalog", action="store_true", help="every model of the catalog")
    parser.add_argument("--dataset", required=True, metavar="DIR", help="a flashinfer-trace checkout (never written, except DIR/.agent/)")
    parser.add_argument("--publish", choices=list(PUBLISH_CHOICES), default="none", help="where bundles go (default: none, report only)")
    parser.add_argument("--group", choices=["per-definition", "per-model"], default="per-definition",
                        help="one definition per pull request (the dataset's rule, default) or one per model")
    parser.add_argument("--allow-unverified", action="store_true", help="open a 🟡 draft for definitions not verified in this run, with the reason")
    parser.add_argument("--workloads", metavar="DIR", help="workloads, blobs and traces you collected, in the dataset layout (never synthesised)")
    parser.add_argument("--verify", choices=["auto", "cpu", "none"], default="auto",
                        help="auto: CPU checks during extraction, then FlashInfer on a GPU; cpu: CPU checks only; none: no checks (nothing can be verified)")
    parser.add_argument("--jobs", type=positive_int, default=None, metavar="N", help="models extracted in parallel processes (default: CPU count)")
    parser.add_argument("--dry-run", action="store_true", help="print every bundle, title and branch; write nothing, send nothing")
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run of the same models")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON instead of a table")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    hf = parser.add_argument_group("Hugging Face (--publish hf)")
    hf.add_argument("--hf-repo", default="flashinfer-ai/flashinfer-trace", metavar="ORG/NAME", help="the dataset repository")
    hf.add_argument("--hf-endpoint", default=os.environ.get("HF_ENDPOINT"), metavar="URL", help="the Hub (default: $HF_ENDPOINT, else huggingface.co)")
    gh = parser.add_argument_group("GitHub (--publish github)")
    gh.add_argument("--github-repo", default="flashinfer-ai/flashinfer-bench", metavar="OWNER/NAME", help="where pull requests are opened")
    gh.add_argument("--github-fork", metavar="OWNER/NAME", help="your fork, where branches are pushed")
    gh.add_argument("--github-checkout", metavar="DIR", help="a local clone of flashinfer-bench (branches are committed there without a checkout)")
    gh.add_argument("--github-base", default="origin/main", metavar="REF", help="the clone's ref to branch from (default origin/main)")
    gh.add_argument("--github-push-url", metavar="URL", help="where to push (default https://github.com/FORK.git)")
    gh.add_argument("--github-api-url", default=os.environ.get("GITHUB_API_URL", "https://api.github.com"), metavar="URL",
                    help="the REST API (default: $GITHUB_API_URL, else api.github.com)")
    local = parser.add_argument_group("local (--publish local)")
    local.add_argument("--local-repo", metavar="DIR", help="the git repository to commit branches in (default: --dataset)")
    local.add_argument("--base", default="HEAD", metavar="REF", help="the commit branches start from (default HEAD)")
    add_sglang_source_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    catalog = Catalog.load()
    if args.catalog:
        models = from_catalog(catalog)
    elif args.models_file:
        models = from_file(args.models_file, catalog)
    else:
        models = from_names([n.strip() for n in args.models.split(",") if n.strip()], catalog)
    models = unique(models)
    publish = PUBLISH_CHOICES[args.publish]
    if args.dry_run and args.resume:
        raise ExtractionError("--resume continues a run that writes; a --dry-run run keeps no state.", hint="Drop --dry-run or --resume.")
    progress = Progress(quiet=args.quiet)
    backends = Backends(dataset=[]) if args.dry_run else _backends(args, publish, progress)
    request = BatchRequest(
        models=models,
        dataset=args.dataset,
        publish=publish,
        group=args.group,
        allow_unverified=args.allow_unverified,
        workloads=args.workloads,
        verify=args.verify,
        jobs=args.jobs or os.cpu_count() or 1,
        dry_run=args.dry_run,
        resume=args.resume,
        extraction=ExtractionOptions(verify="none" if args.verify == "none" else "auto", sglang_path=args.sglang_path, sglang_version=args.sglang_version,
                                     allow_download=not args.offline, cache_dir=args.cache_dir),
    )
    summary = run_batch(request, backends, progress)
    if args.json:
        print(summary.model_dump_json(indent=2))
    else:
        print(render_table(summary))
    return summary.exit_status


def _backends(args: argparse.Namespace, publish: list[str], progress: Progress) -> Backends:
    """Every requested backend, its token read and checked before any work."""
    backends = Backends(dataset=[])
    if "local" in publish:
        from tools.publish.local import LocalPublisher

        backends.dataset.append(LocalPublisher(Path(args.local_repo or args.dataset), args.base))
    if "hf" in publish:
        from tools.publish.hf import HfPublisher

        hf = HfPublisher(args.hf_repo, token=token_for("hf"), endpoint=args.hf_endpoint)
        progress.stage("publish", f"Hugging Face: {args.hf_repo} as {hf.check_token()}")
        backends.dataset.append(hf)
    if "github" in publish:
        from tools.publish.github import GitHubPublisher

        if not args.github_fork or not args.github_checkout:
            raise ExtractionError("--publish github needs --github-fork OWNER/NAME and --github-checkout DIR.",
                                  hint="Fork flashinfer-bench, clone it, and pass both (branches are pushed to the fork).")
        github = GitHubPublisher(repo=args.github_repo, fork=args.github_fork, checkout=Path(args.github_checkout),
                                 push_url=args.github_push_url or f"https://github.com/{args.github_fork}.git", base=args.github_base,
                                 token=token_for("github"), api_url=args.github_api_url)
        progress.stage("publish", f"GitHub: {args.github_repo} from {args.github_fork} as {github.check_token()}")
        backends.github = github
    return backends


