"""``longroll studio``: a live web page that streams long videos as they are made."""

from __future__ import annotations

import argparse
import logging

HELP = "serve a live page: type a prompt, watch the video as it is made, switch prompts, cut, pause, download"

log = logging.getLogger(__name__)


def register(parser: argparse.ArgumentParser) -> None:
    from longroll.cli.generate import add_model_arguments

    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (127.0.0.1: this machine only; 0.0.0.0 exposes the page, its "
                             "gallery and its generation to the whole network)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on")
    parser.add_argument("--workers", type=int, default=1, help="videos made at once (1 on a CPU)")
    parser.add_argument("--queue", type=int, default=8, help="videos that may wait for a worker")
    parser.add_argument("--out", default="studio-outputs",
                        help="folder the videos and their sidecars are written to (names are generated)")
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from longroll._validate import check_int
    from longroll.cli.generate import model_options
    from longroll.io.atomic import check_output_path
    from longroll.models.registry import load_model

    check_int("port", args.port, low=1, high=65535)
    check_int("workers", args.workers, low=1, high=64)
    check_int("queue", args.queue, low=0, high=1000)
    check_output_path(args.out, folder_output=True)
    try:
        import uvicorn

        from longroll.studio.app import create_app
    except ImportError as err:
        raise ValueError("The studio needs its web framework: pip install 'longroll[studio]'.") from err
    args.replay = None
    options = model_options(args)
    model = load_model(args.model, weights=args.weights, device=args.device, **options)
    app = create_app(model, args.out, workers=args.workers, max_queue=args.queue)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("listening on %s: anyone who can reach this address can generate videos and download this "
                    "studio's outputs", args.host)
    log.info("longroll studio on http://%s:%d/ (model %s, outputs in %s)", args.host, args.port, model.name, args.out)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", ws_max_size=65536)
    return 0
