"""``longroll generate``: a long video from a prompt (schedule), streamed to MP4, GIF or PNG frames."""

from __future__ import annotations

import argparse

HELP = "generate a long video from a prompt (chunk-wise rollout with the model's default preset)"


def builtin_default(what: str) -> str:
    """``"; <what>: X for the built-in model"``-style text of one of the shipped model's defaults, read from
    its JSON (empty when the shipped files are missing): help texts state what runs."""
    from longroll.models.tiny.weights import shipped_defaults

    d = shipped_defaults()
    if d is None:
        return ""
    return {"preset": d.preset, "cfg": f"{d.schedule.cfg:g}", "upscale": str(d.upscale),
            "steps": str(len(d.schedule.timesteps) if d.schedule.timesteps else d.schedule.steps),
            "window": f"{d.native_window} (its own), {d.window} with the sink presets",
            "sink": f"{d.native.sink} (its own), {d.sink} with the sink presets"}[what]


def register(parser: argparse.ArgumentParser) -> None:
    from longroll.pipelines.presets import PRESETS

    parser.add_argument("prompt", nargs="?", default=None,
                        help="what to show, e.g. 'a red circle and a blue square on a navy background', or a timed "
                             "script of shots: 'a red circle on a black background [4s] | two blue squares on a navy "
                             "background [6s#]' ('#': the shot starts with a hard cut)")
    parser.add_argument("--replay", metavar="SIDECAR", default=None,
                        help="generate again the video a .json sidecar describes (ignores prompt and settings)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="video length in seconds (default 8; a timed script's total)")
    parser.add_argument("--out", default=None, help="output .mp4 or .gif file, or a folder/ for PNG frames "
                                                     "(required unless --resume)")
    parser.add_argument("--resume", metavar="VIDEO", default=None,
                        help="finish a video cut short (its sidecar says incomplete, or a NAME.partial-PID.mp4 left "
                             "by a killed run): made again to its name, the frames made before checked")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same video; default 0)")
    parser.add_argument("--preset", default=None, choices=[*PRESETS, "auto"],
                        help=f"horizon-extension preset (default: the model's, chosen by measurement: "
                             f"{builtin_default('preset') or 'see its model card'} for the built-in model; "
                             "auto: the one longroll bench --model chose for these weights, where it was run)")
    parser.add_argument("--switch", action="append", default=[], metavar="TIME:PROMPT",
                        help="switch prompt at TIME (e.g. 12s:'a red circle on a navy background'); repeatable")
    parser.add_argument("--upscale", type=int, default=None,
                        help=f"enlarge frames by this factor for viewing (default: the model's; "
                             f"{builtin_default('upscale') or 'its own'} for the built-in)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output and its sidecar")
    parser.add_argument("--init", default=None, metavar="VIDEO|IMAGE|FRAMES/",
                        help="continue from these frames (resized by area, resampled to the model's fps); --seconds "
                             "then counts the new part")
    parser.add_argument("--init-frames", type=int, default=None, help="keep only the last N init frames")
    parser.add_argument("--actions", default=None, metavar="FILE",
                        help="far world models (DMLab, Minecraft): one integer action per frame, context frames "
                             "included (in place of a prompt)")
    parser.add_argument("--no-init-in-output", action="store_false", dest="init_in_output",
                        help="leave the init frames out of the output")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_model_arguments(parser)
    add_rollout_arguments(parser)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --weights and the families' loading options (shared with ``longroll batch``)."""
    from longroll.models.causal_wan.flavours import RECORDS
    from longroll.models.far.zoo import FLAVOURS

    parser.add_argument("--model", default="tiny",
                        help="model family: tiny (built in; default), causal-wan (Self Forcing, LongLive, CausVid, "
                             "Causal Forcing, Reward Forcing, Rolling Forcing), wan (Wan2.1 through diffusers: FIFO "
                             "and MIGA schedules) or far (FAR's released models)")
    parser.add_argument("--weights", "--checkpoint", default=None, dest="weights",
                        help="weights: tiny's file (default: the shipped weights), causal-wan's checkpoint "
                             "file or directory, or FAR's transformer file")
    w = parser.add_argument_group("causal-wan, wan and far (local paths only)")
    w.add_argument("--base", default=None,
                   help="Wan2.1 directory in diffusers layout (text_encoder/, tokenizer/, vae/)")
    w.add_argument("--flavour", default=None, choices=[*RECORDS, *FLAVOURS],
                   help="whose released inference is reproduced (default: self-forcing for causal-wan, FAR's "
                        f"file name for far): causal-wan's checkpoint family ({', '.join(RECORDS)}) or FAR's "
                        f"release ({', '.join(FLAVOURS)})")
    w.add_argument("--dcae", default=None,
                   help="far: the release's DC-AE (FAR's DCAE_*.pth or a diffusers folder; default: found where "
                        "FAR's download puts it)")
    w.add_argument("--classes", default=None,
                   help="far: a text file of the class names in label order (default: UCF-101's classInd.txt)")
    w.add_argument("--lora", default=None, help="PEFT LoRA file merged into the weights (LongLive's lora.pt)")
    w.add_argument("--lora-alpha", type=float, default=None, help="LoRA alpha (default: the rank, scale 1)")
    w.add_argument("--ema", action=argparse.BooleanOptionalAction, default=None,
                   help="use (--ema) or not (--no-ema) generator_ema from a training checkpoint (default: as the "
                        "flavour's own inference, where the file has it)")
    w.add_argument("--trust-pickle", action="store_true",
                   help="allow checkpoints that need full unpickling (only for files you trust)")
    w.add_argument("--height", type=int, default=None, help="video height in pixels (default 480)")
    w.add_argument("--width", type=int, default=None, help="video width in pixels (default 832)")
    w.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    w.add_argument("--compile", action="store_true",
                   help="causal-wan: torch.compile the transformer's blocks (compiled at the first chunk, then "
                        "faster; frames differ from uncompiled ones by rounding, and the sidecar records it)")


def add_rollout_arguments(parser: argparse.ArgumentParser) -> None:
    """--schedule with the FIFO / MIGA settings, and the preset overrides (shared with ``longroll batch``)."""
    from longroll.pipelines.rollouts import DEFAULT, SCHEDULES

    d = parser.add_argument_group("schedules (how the video is rolled out) and the diagonal ones' settings")
    d.add_argument("--schedule", default=None, choices=list(SCHEDULES),
                   help="; ".join(f"{s.name}: {s.description}" for s in SCHEDULES.values())
                        + f" (default: {DEFAULT}, or the flavour's own: rolling for rolling-forcing)")
    d.add_argument("--diag-steps", type=int, default=None, dest="diag_steps",
                   help="MIGA T: steps from noise to clean (FIFO's is window x partitions)")
    d.add_argument("--partitions", type=int, default=None, help="FIFO n: queue = window x n frames")
    d.add_argument("--no-lookahead", action="store_const", const=False, default=None, dest="lookahead",
                   help="FIFO without lookahead denoising")
    d.add_argument("--zigzag-k", type=int, default=None, help="MIGA k: frames per noise level")
    d.add_argument("--stage2-steps", type=int, default=None, help="MIGA T2: steps at one shared level (0: off)")
    d.add_argument("--guidance", type=int, default=None, help="MIGA m: long-range guidance frames (0: off)")
    d.add_argument("--guidance-from", default=None, dest="guidance_from",
                   help="MIGA: where the guidance frames come from: window (MIGA's code: one from each of the m "
                        "chunks before the window; default) or head (the queue's head chunks)")
    d.add_argument("--no-reflection", action="store_const", const=False, default=None, dest="reflection",
                   help="MIGA without self-reflection")
    d.add_argument("--candidates", type=int, default=None, help="MIGA c: candidate noise chunks per search")
    d.add_argument("--delta", type=float, default=None, help="MIGA score drop that triggers a search, in [0, 2]")
    from longroll.pipelines.overrides import TABLE

    o = parser.add_argument_group("preset overrides (each refines the chosen preset; see pipelines/overrides.py)")
    for spec in TABLE:
        if spec.option is None:
            continue
        whose = "the model's" if spec.builtin in ("cfg", "steps") else "the preset's"
        text = spec.help + (f" (default: {whose}; {builtin_default(spec.builtin)} for the built-in model)"
                            if spec.builtin and builtin_default(spec.builtin) else "")
        if spec.name == "window":  # under FIFO / MIGA --window is the schedule's own window (collect_diagonal)
            text += "; under fifo / miga: the frames the model sees per pass, its training clip unless given"
        if spec.kind == "on":
            o.add_argument(spec.option, action="store_const", const=True, default=None, dest=spec.dest, help=text)
        else:
            o.add_argument(spec.option, type={"int": int, "float": float, "str": str}[spec.kind], default=None,
                           dest=spec.dest, choices=spec.choices, help=text)


def collect_overrides(args: argparse.Namespace) -> dict:
    """The preset overrides given on the command line (None = keep the preset's); ``--flexrope-lambda``
    alone turns the FlexRoPE bias on, ``--recency`` the recency bias."""
    from longroll.pipelines.overrides import TABLE

    given = {spec.name: getattr(args, spec.dest, None) for spec in TABLE if spec.option is not None}
    if given.get("flexrope_lambda") is not None and given.get("bias") is None:
        given["bias"] = "flexrope"
    if given.get("recency") is not None and given.get("bias") is None:
        given["bias"] = "recency"
    return given


def schedule_of(args: argparse.Namespace) -> str:
    """``--schedule``, or the flavour's own (Rolling Forcing: rolling), or the default (chunk)."""
    from longroll.pipelines.rollouts import DEFAULT

    if args.schedule is not None:
        return args.schedule
    if getattr(args, "model", None) == "causal-wan" and getattr(args, "flavour", None):
        from longroll.models.causal_wan.flavours import RECORDS

        record = RECORDS.get(args.flavour)
        if record is not None:
            return record.schedule
    return DEFAULT


def collect_diagonal(args: argparse.Namespace) -> dict:
    """The schedule's own settings given on the command line (FIFO / MIGA); ``--window`` is the schedule's
    window where the schedule has one of its own. A setting the schedule does not take is refused when the
    request is built, naming its flag."""
    from longroll.pipelines.fifo.config import OPTION_FLAGS
    from longroll.pipelines.rollouts import SCHEDULES

    # Each setting's flag (fifo.config.OPTION_FLAGS) is where argparse stored it; --window is the override's.
    diagonal = {k: getattr(args, flag.lstrip("-").removeprefix("no-").replace("-", "_"))
                for k, flag in OPTION_FLAGS.items() if k != "window"}
    spec = SCHEDULES[schedule_of(args)]
    if "window" in spec.options and "window" not in spec.takes:
        diagonal["window"] = args.window
    return {k: v for k, v in diagonal.items() if v is not None}


def rollout_settings(args: argparse.Namespace) -> tuple[dict, str, dict]:
    """(overrides, schedule, schedule options) given on the command line (shared with ``longroll batch``)."""
    overrides = {k: v for k, v in collect_overrides(args).items() if v is not None}
    options = collect_diagonal(args)
    if "window" in options:  # --window went to the schedule's own window
        overrides.pop("window", None)
    return overrides, schedule_of(args), options


def build_request(args: argparse.Namespace, fps: float):
    """The command line's ``GenerationRequest`` (checked without a model)."""
    from longroll.pipelines.request import GenerationRequest, parse_switch

    actions = getattr(args, "actions", None)
    if actions is not None:
        from longroll.models.far.labels import actions_prompt, read_actions

        if args.prompt is not None:
            raise ValueError("--actions is the conditioning of an action-conditioned model, in place of a prompt; "
                             f"drop the prompt {args.prompt[:40]!r}.")
        args.prompt = actions_prompt(read_actions(actions))
    if args.prompt is None:
        raise ValueError("Give a prompt (or --replay SIDECAR).")
    from longroll.pipelines.script import is_script

    overrides, schedule, options = rollout_settings(args)
    seconds = args.seconds if args.seconds is not None or is_script(args.prompt) else 8.0
    return GenerationRequest(prompt=args.prompt, seconds=seconds, seed=args.seed,
                             switches=tuple(parse_switch(s, fps) for s in args.switch), preset=args.preset,
                             overrides=overrides, schedule=schedule, schedule_options=options,
                             out=args.out, upscale=args.upscale, overwrite=args.overwrite, init=args.init,
                             init_frames=args.init_frames, init_in_output=args.init_in_output)


def run(args: argparse.Namespace) -> int:
    from longroll._validate import check_choice
    from longroll.models.registry import MODELS, load_model, model_fps
    from longroll.pipelines.generate import generate_request, replay

    # 1. Validate everything cheap before any model is loaded or file created.
    if args.resume:
        from longroll.pipelines.generate import resume

        _refuse_settings(args, "--resume", allowed=("weights",))
        print(f"wrote {resume(args.resume, progress=not args.no_progress)}")
        return 0
    if args.out is None:
        raise ValueError("Give --out FILE (.mp4, .gif, or a folder/ for PNG frames).")
    check_choice("model", args.model, MODELS)
    options = model_options(args)
    if args.replay:
        _refuse_settings(args, "--replay", allowed=("out", "weights", "overwrite"))
        model = load_model(args.model, weights=args.weights, device=args.device, **options) if args.weights else None
        path = replay(args.replay, out=args.out, model=model, progress=not args.no_progress, overwrite=args.overwrite)
        print(f"wrote {path}")
        return 0
    request = build_request(args, model_fps(args.model, args.weights, options))  # checked when built; resolve
    # checks the rest
    # 2. Load the model, resolve the request against it once, and generate, streaming to the file.
    model = load_model(args.model, weights=args.weights, device=args.device, **options)
    result = generate_request(request, model, progress=not args.no_progress)
    print(f"wrote {result.path}")
    return 0


def _refuse_settings(args: argparse.Namespace, mode: str, *, allowed: tuple[str, ...]) -> None:
    """``--resume`` and ``--replay`` take the prompt and every setting from the sidecar: one given beside them
    would be ignored, so it is refused, naming it."""
    from longroll.pipelines.fifo.config import OPTION_FLAGS
    from longroll.pipelines.presets import OVERRIDE_FLAGS

    given = []
    if args.prompt is not None:
        from longroll._validate import excerpt

        given.append(f"the prompt {excerpt(args.prompt, 40)}")
    plain = {"seconds": None, "seed": 0, "preset": None, "switch": [], "upscale": None, "init": None,
             "actions": None,
             "init_frames": None, "init_in_output": True, "schedule": None, "out": None, "overwrite": False}
    given += [f"--{name.replace('_', '-')}" if name != "init_in_output" else "--no-init-in-output"
              for name, default in plain.items() if name not in allowed and getattr(args, name) != default]
    overrides, _, options = rollout_settings(args)
    given += [f"--{OVERRIDE_FLAGS.get(k, k)}" for k in overrides] + [OPTION_FLAGS.get(k, k) for k in options]
    if given:
        raise ValueError(f"{mode} takes the prompt and every setting from the video's sidecar; drop "
                         f"{', '.join(given)} (it would be ignored).")


def model_options(args: argparse.Namespace) -> dict:
    """Loading options given on the command line, checked against the model family (no loading)."""
    from longroll.models.registry import check_options

    options = {k: getattr(args, k, None) for k in ("base", "flavour", "lora", "lora_alpha", "height", "width",
                                                    "dcae", "classes") if getattr(args, k, None) is not None}
    options.update({"trust_pickle": True} if args.trust_pickle else {})
    options.update({"compile": True} if getattr(args, "compile", False) else {})
    if args.ema is not None:
        options["ema"] = args.ema
    if args.model == "causal-wan":
        from longroll.models.causal_wan.rollout_spec import spec_for

        options.setdefault("flavour", "self-forcing")
        spec_for(options["flavour"], height=options.get("height"), width=options.get("width"))  # validate early
    if args.model == "far":
        from longroll.models.far.zoo import release_for

        release_for(options.get("flavour"), args.weights)  # the release, from --flavour or the file's name
    # A replay takes its weights from the sidecar when none are given.
    check_options(args.model, "replay" if getattr(args, "replay", None) else args.weights, options)
    return options
