"""The run configuration: one typed object that drives the CLI, the studio form, the job record and the worker.

Each field carries its own help text, bounds and choices, so the form, the CLI help and validation read
from the same place. ``load_config``/``dump_config`` move it to and from YAML; ``parse_config`` turns
pydantic's errors into one line per bad field that names the field and what it accepts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import ConfigError

LINEAR_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _ui(group: str, **extra: Any) -> dict[str, Any]:
    """Form metadata kept beside the field: which group it sits in and when it is shown."""
    return {"group": group, **extra}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Section):
    train: list[str] = Field(
        default_factory=lambda: ["sample:tc_corpus"],
        min_length=1,
        description="Training files: .txt, .jsonl/.json (text, Alpaca, ShareGPT, OpenAI messages), .csv, "
        ".parquet; relative paths resolve against the config file's folder; 'sample:tc_corpus' and "
        "'sample:conversations' name the bundled samples.",
        json_schema_extra=_ui("data"),
    )
    format: Literal["auto", "text", "alpaca", "sharegpt", "messages"] = Field(
        "auto", description="Record format; 'auto' detects it per file from the keys.", json_schema_extra=_ui("data")
    )
    eval_fraction: float = Field(
        0.0, ge=0.0, lt=0.5, description="Share of examples held out for evaluation loss (0 = none).",
        json_schema_extra=_ui("data"),
    )
    seq_len: int = Field(512, ge=16, le=131072, description="Tokens per training sequence.", json_schema_extra=_ui("data"))
    packing: bool = Field(
        True, description="Pack examples end to end into seq_len blocks instead of padding each one.",
        json_schema_extra=_ui("data"),
    )
    template: Literal["auto", "chatml", "llama3", "zephyr"] = Field(
        "auto", description="Chat template for SFT; 'auto' uses the model's own and falls back to ChatML.",
        json_schema_extra=_ui("data", show_if="stage == 'sft'"),
    )


class QuantConfig(_Section):
    bits: Literal[4, 8, "none"] = Field(
        4, description="Base-model weights: 4-bit (QLoRA), 8-bit, or 'none' for full precision.",
        json_schema_extra=_ui("quant"),
    )
    type: Literal["nf4", "fp4"] = Field("nf4", description="4-bit data type.", json_schema_extra=_ui("quant", show_if="bits == 4"))
    double_quant: bool = Field(
        True, description="Quantise the quantisation constants too (saves ~0.4 bit/parameter).",
        json_schema_extra=_ui("quant", show_if="bits == 4"),
    )
    compute_dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Dtype for matmuls; 'auto' is bfloat16 on a GPU that supports it, else float32.",
        json_schema_extra=_ui("quant"),
    )

    @field_validator("bits", mode="before")
    @classmethod
    def _none_means_full_precision(cls, value: Any) -> Any:
        if value is None or value in ("None", "null", "16", "32", 16, 32):
            return "none"
        if value in ("4", "8"):
            return int(value)
        return value


class LoraConfig(_Section):
    r: int = Field(8, gt=0, le=1024, description="LoRA rank.", json_schema_extra=_ui("lora"))
    alpha: float = Field(16, gt=0, description="LoRA scaling numerator (scale = alpha / r).", json_schema_extra=_ui("lora"))
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA input.", json_schema_extra=_ui("lora"))
    targets: Union[Literal["all-linear"], list[str]] = Field(
        "all-linear", description="Modules that get LoRA: 'all-linear' (every projection) or a list of names.",
        json_schema_extra=_ui("lora"),
    )
    embeddings: bool = Field(
        True, description="Also put LoRA on embed_tokens and lm_head (the Bailong recipe).", json_schema_extra=_ui("lora")
    )

    @field_validator("targets")
    @classmethod
    def _targets_not_empty(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("give 'all-linear' or at least one module name")
        return value


class TrainConfig(_Section):
    max_steps: int | None = Field(100, ge=1, description="Optimizer steps; wins over epochs when both are set.", json_schema_extra=_ui("train"))
    epochs: float | None = Field(None, gt=0, description="Passes over the data when max_steps is not set.", json_schema_extra=_ui("train"))
    lr: float = Field(2.0e-4, gt=0, le=1.0, description="Peak learning rate.", json_schema_extra=_ui("train"))
    scheduler: Literal["cosine", "linear", "constant"] = Field("cosine", description="Learning-rate decay after warm-up.", json_schema_extra=_ui("train"))
    warmup_ratio: float = Field(0.03, ge=0.0, lt=1.0, description="Share of steps spent warming up the learning rate.", json_schema_extra=_ui("train"))
    batch_size: int = Field(2, ge=1, le=4096, description="Sequences per micro-batch.", json_schema_extra=_ui("train"))
    grad_accum: int = Field(1, ge=1, le=4096, description="Micro-batches per optimizer step.", json_schema_extra=_ui("train"))
    grad_checkpointing: Union[bool, Literal["auto"]] = Field(
        "auto",
        description="Recompute activations in the backward pass to save memory; 'auto' turns it on only "
        "when the estimated activations would not fit the memory budget.",
        json_schema_extra=_ui("train"),
    )
    activation_budget_gb: float = Field(
        0.85, gt=0, le=4096,
        description="With grad_checkpointing 'auto': activation memory (GiB) kept before layers are recomputed; "
        "raise it for speed when memory is plentiful.",
        json_schema_extra=_ui("train", show_if="grad_checkpointing == 'auto'"),
    )
    weight_decay: float = Field(0.0, ge=0.0, le=1.0, description="AdamW weight decay.", json_schema_extra=_ui("train"))
    max_grad_norm: float = Field(1.0, ge=0.0, description="Gradient clipping norm (0 = off).", json_schema_extra=_ui("train"))
    seed: int = Field(42, ge=0, description="Seed for shuffling, LoRA init and dropout.", json_schema_extra=_ui("train"))
    save_steps: int = Field(50, ge=1, description="Save a resumable checkpoint every N steps.", json_schema_extra=_ui("train"))
    logging_steps: int = Field(1, ge=1, description="Write a metrics line every N steps.", json_schema_extra=_ui("train"))
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where to train; 'auto' picks CUDA when present.", json_schema_extra=_ui("train"))

    @model_validator(mode="after")
    def _has_a_length(self) -> "TrainConfig":
        if self.max_steps is None and self.epochs is None:
            raise ValueError("set max_steps or epochs")
        return self


class VocabConfig(_Section):
    """Vocabulary extension (zip-tie): off unless ``learn_from`` or ``tokenizer`` is set."""

    learn_from: list[str] = Field(
        default_factory=list,
        description="Corpora ('corpus:NAME') or files to learn Traditional Chinese tokens from before training; "
        "empty (and no tokenizer) = keep the base model's vocabulary.",
        json_schema_extra=_ui("vocab"),
    )
    tokenizer: str | None = Field(
        None, description="An already extended tokenizer folder (from 'bailong vocab learn'), used instead of learning.",
        json_schema_extra=_ui("vocab"),
    )
    new_tokens: int = Field(20000, ge=1, le=1_000_000, description="How many tokens to learn.", json_schema_extra=_ui("vocab"))
    min_frequency: int = Field(
        2, ge=1, description="A new token must join pieces seen together at least this often.", json_schema_extra=_ui("vocab")
    )
    init: Literal["ziptie", "mean", "random"] = Field(
        "ziptie",
        description="New embedding rows: 'ziptie' = mean of the rows of the pieces each token replaces; 'mean' = mean "
        "of all rows; 'random' = the model's init noise.",
        json_schema_extra=_ui("vocab"),
    )
    tie_embeddings: bool = Field(
        False, description="For models with a separate output head: give the new output rows the new input rows' values.",
        json_schema_extra=_ui("vocab"),
    )
    warmup_steps: int = Field(
        0, ge=0, le=100_000, description="Steps that train only the new rows (everything else frozen) before QLoRA.",
        json_schema_extra=_ui("vocab"),
    )

    @model_validator(mode="after")
    def _one_source(self) -> "VocabConfig":
        if self.learn_from and self.tokenizer:
            raise ValueError("set learn_from or tokenizer, not both")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.learn_from or self.tokenizer)


RunName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class RunConfig(_Section):
    """A complete, validated description of one training run."""

    name: RunName = Field("demo", description="Run name: letters, digits, '.', '_' or '-'; output goes to <home>/runs/<name>/.", json_schema_extra=_ui("run"))
    base_model: str = Field(
        "default", min_length=1,
        description="'default' (the embedded SmolLM2-135M-Instruct), a local Hugging Face folder, or a hub id.",
        json_schema_extra=_ui("model"),
    )
    trust_remote_code: bool = Field(False, description="Run code shipped with a hub model (off unless you trust it).", json_schema_extra=_ui("model"))
    stage: Literal["pretrain", "sft"] = Field(
        "pretrain", description="'pretrain': secondary pre-training on raw text; 'sft': multi-turn chat fine-tuning.",
        json_schema_extra=_ui("run"),
    )
    data: DataConfig = Field(default_factory=DataConfig)
    vocab: VocabConfig = Field(default_factory=VocabConfig)
    quant: QuantConfig = Field(default_factory=QuantConfig)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    output_dir: str | None = Field(None, description="Where to write the run; defaults to <home>/runs/<name>/.", json_schema_extra=_ui("run"))


def _field_names(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at ``loc`` in the nested config, for 'unknown field' messages."""
    current: Any = model
    for part in loc[:-1]:
        field = current.model_fields.get(part) if isinstance(part, str) else None
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return []
        current = field.annotation
    return list(current.model_fields)


def format_errors(error: ValidationError) -> list[str]:
    """One line per invalid value: ``field.path: what is wrong (got X)``."""
    lines = []
    for item in error.errors():
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith(("literal[", "list[", "function-"))))
        path = ".".join(str(p) for p in loc) or "config"
        if item["type"] == "extra_forbidden":
            allowed = ", ".join(_field_names(RunConfig, loc))
            lines.append(f"{path}: unknown field; allowed here: {allowed}")
            continue
        message = item["msg"].removeprefix("Value error, ")
        got = item.get("input")
        got_text = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{path}: {message}{got_text}")
    # A union reports once per branch; the same line twice helps nobody.
    return list(dict.fromkeys(lines))


def parse_config(data: dict[str, Any]) -> RunConfig:
    """Validate a plain mapping into a RunConfig or raise ConfigError listing every bad field."""
    if not isinstance(data, dict):
        raise ConfigError(f"config: expected a mapping of fields, got {type(data).__name__}")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError("; ".join(format_errors(error))) from None


def load_config(path: str | Path) -> RunConfig:
    """Read a YAML run configuration; relative data paths are later resolved against its folder."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    return parse_config(data or {})


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    return config.model_dump(mode="json")


def dump_config(config: RunConfig) -> str:
    return yaml.safe_dump(config_to_dict(config), sort_keys=False, allow_unicode=True)


def save_config(config: RunConfig, path: str | Path) -> None:
    Path(path).write_text(dump_config(config), encoding="utf-8")


# Fields a resumed run may change without becoming a different run: how long and how often, not what.
RESUMABLE_CHANGES = {("train", "max_steps"), ("train", "epochs"), ("train", "save_steps"), ("train", "logging_steps")}


def differing_fields(a: RunConfig, b: RunConfig) -> list[str]:
    """Dotted names of the fields whose values differ between two configs."""
    def flatten(d: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
        out: dict[tuple[str, ...], Any] = {}
        for key, value in d.items():
            if isinstance(value, dict):
                out.update(flatten(value, prefix + (key,)))
            else:
                out[prefix + (key,)] = value
        return out

    fa, fb = flatten(config_to_dict(a)), flatten(config_to_dict(b))
    return [".".join(k) for k in fa if fa[k] != fb.get(k)]
