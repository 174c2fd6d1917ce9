"""``POST /v1/chat/completions`` and ``GET /v1/models``, thin over
:class:`~mmagent.serving.chat.service.ChatService`.

A chat run stops when its client goes away: the non-streaming route polls for the disconnect,
the streaming one stops when sse-starlette closes the stream.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Request
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from mmagent.serving._deps import BaseURL, Owner, OwnHosts, service
from mmagent.serving._sse import event_stream
from mmagent.serving.chat.protocol import ChatCompletionRequest, ModelList
from mmagent.serving.chat.service import ChatService

__all__ = ["router"]

router = APIRouter()
Chat = Annotated[ChatService, service("chat")]
_DISCONNECT_POLL_S = 0.25


@router.get("/v1/models")
async def list_models(_who: Owner, chat: Chat) -> ModelList:
    return chat.models()


@router.post("/v1/chat/completions")
async def create_chat_completion(req: ChatCompletionRequest, request: Request, who: Owner,
                                 base_url: BaseURL, own_hosts: OwnHosts, chat: Chat):
    workflow = chat.check_model(req.model)
    parsed = await run_in_threadpool(chat.parse, req, who, own_hosts)
    cancel = threading.Event()  # set when the client goes away: the run stops
    if not req.stream:
        work = asyncio.ensure_future(run_in_threadpool(
            chat.completion, req, workflow, parsed, who, base_url, cancel))
        while not (await asyncio.wait({work}, timeout=_DISCONNECT_POLL_S))[0]:
            if await request.is_disconnected():
                cancel.set()
        return work.result()
    return event_stream(_cancelled_on_close(
        chat.chunks(req, workflow, parsed, who, base_url, cancel), cancel))


async def _cancelled_on_close(chunks: Iterator[dict[str, Any]], cancel: threading.Event):
    try:
        async for chunk in iterate_in_threadpool(chunks):
            yield chunk
    finally:  # the stream ended, or the client went away
        cancel.set()
