"""Chat → prompt token ids, shared by the generator engines.

Prompts travel as token ids, never as rendered text: a chat template that already starts with the BOS
token, rendered to text and tokenised again with special tokens, gives Llama-family models two BOS tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rpsg_ray.engines.base import Chat

DOCUMENT = "document"
"""The role of a chat's only message when it is the start of a document to continue, not a conversation:
its text is tokenised as it is, with no chat template (completion-style prompts)."""


def prompt_ids(tokenizer: Any, chat: Chat, budget: int) -> list[int]:
    """The chat template's token ids with the generation prompt (a document: its own tokens); over `budget`
    tokens, the middle of the input is cut so the instructions at the start and the generation prompt at the
    end survive."""
    if len(chat) == 1 and chat[0]["role"] == DOCUMENT:
        ids = tokenizer(chat[0]["content"], add_special_tokens=True)["input_ids"]
    else:
        ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True, return_dict=False)
    if isinstance(ids, Mapping):  # some tokenizer wrappers return a BatchEncoding whatever return_dict says
        ids = ids["input_ids"]
    ids = list(ids)
    if len(ids) > budget:
        ids = ids[: budget // 2] + ids[len(ids) - (budget - budget // 2) :]
    return ids
