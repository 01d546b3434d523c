"""The question parser as a fine-tuned model (QLoRA on Gemma 3 270M): question -> type and tools.

Only inference lives here; training and the comparison with the word rules are in
``cardioagent.agent.training.parser``. May import ``cardioagent.models`` and ``cardioagent.tools``.
"""

from cardioagent.models.parser.model import (
    ADAPTER,
    TOOL_ORDER,
    TRAINED_MODALITIES,
    TYPES,
    ParsedPlan,
    ParserModel,
    allowed_answers,
    answer_text,
    prompt,
    read_answer,
    shipped,
    shipped_parser,
)

__all__ = [
    "ADAPTER",
    "TOOL_ORDER",
    "TRAINED_MODALITIES",
    "TYPES",
    "ParsedPlan",
    "ParserModel",
    "allowed_answers",
    "answer_text",
    "prompt",
    "read_answer",
    "shipped",
    "shipped_parser",
]
