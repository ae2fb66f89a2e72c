"""Real LLM-provider API error responses, for testing the error classifier.

Each ``ErrorSample`` is an HTTP status, the headers that matter for classification
(``retry-after``, ``retry-after-ms``, ``x-ratelimit-*``, ``anthropic-ratelimit-*`` ...)
and the JSON body as the provider sent it, with the class we expect a classifier to
assign and a citable source (issue thread, docs page or ``github:owner/repo/path``).

Bodies are copied from the cited source. Python-repr dumps were converted to JSON,
pretty-printed JSON was compacted, and key material, org/project/user ids were replaced
with fakes. Anything not seen verbatim is marked RECONSTRUCTED or CONVERTED in ``note``.
``expected`` is one of: rate_limited, quota_exhausted, invalid_key, server_error, client_error.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorSample:
    """One provider error response and the classification we expect for it."""

    provider: str
    status: int
    headers: dict[str, str]
    body: str
    expected: str
    source: str
    note: str


PROVIDERS: frozenset[str] = frozenset(
    {"openai", "azure", "anthropic", "gemini", "groq", "mistral", "deepseek", "openrouter", "together"}
)
EXPECTED: frozenset[str] = frozenset({"rate_limited", "quota_exhausted", "invalid_key", "server_error", "client_error"})

SAMPLES: list[ErrorSample] = [
    ErrorSample(
        provider="openai",
        status=429,
        headers={
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-limit-tokens": "150000",
            "x-ratelimit-remaining-requests": "59",
            "x-ratelimit-remaining-tokens": "149984",
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-reset-tokens": "6m0s",
        },
        body=(
            '{"error":{"message":"Rate limit reached for gpt-3.5-turbo in organization org-exampleorgid123 on tokens '
            'per min. Limit: 10000.000000 / min. Current: 10020.000000 / min.","type":"tokens","param":null,'
            '"code":"rate_limit_exceeded"}}'
        ),
        expected="rate_limited",
        source="https://platform.openai.com/docs/guides/rate-limits",
        note=(
            "RECONSTRUCTED: header names/sample values from the rate-limits guide table (duration format '1s', "
            "'6m0s'); message from help.openai.com/en/articles/5955604 wrapped in the usual error envelope."
        ),
    ),
    ErrorSample(
        provider="openai",
        status=429,
        headers={},
        body=(
            '{"error":{"message":"Rate limit reached for gpt-4o in organization org-AbCdEfGhIjKlMnOpQrSt on requests '
            "per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more. You can increase your rate limit by adding "
            'a payment method to your account at https://platform.openai.com/account/billing.","type":"requests",'
            '"param":null,"code":"rate_limit_exceeded"}}'
        ),
        expected="rate_limited",
        source="https://github.com/Huanshere/VideoLingo/issues/34",
        note=(
            "RPM variant: type='requests', code='rate_limit_exceeded', wait only in prose ('20s'); from Python repr, "
            "org id faked."
        ),
    ),
    ErrorSample(
        provider="openai",
        status=429,
        headers={},
        body=(
            '{"error":{"message":"Rate limit reached for gpt-4o in organization org-AbCdEfGhIjKlMnOpQrSt on tokens per '
            "min (TPM): Limit 10000, Used 9524, Requested 497. Please try again in 125ms. Visit "
            "https://platform.openai.com/account/rate-limits to learn more. You can increase your rate limit by adding "
            'a payment method to your account at https://platform.openai.com/account/billing.","type":"tokens",'
            '"param":null,"code":"rate_limit_exceeded"}}'
        ),
        expected="rate_limited",
        source="https://github.com/Huanshere/VideoLingo/issues/34",
        note="TPM variant: type='tokens'; prose wait in ms ('125ms'); converted from Python repr, org id faked.",
    ),
    ErrorSample(
        provider="openai",
        status=429,
        headers={},
        body=(
            '{"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-xxxxxxxxx on requests per day '
            "(RPD): Limit 200, Used 200, Requested 1. Please try again in 7m12s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more. You can increase your rate limit by adding "
            'a payment method to your account at https://platform.openai.com/account/billing.","type":"requests",'
            '"param":null,"code":"rate_limit_exceeded"}}'
        ),
        expected="rate_limited",
        source="https://github.com/feder-cr/invisible_playwright_mcp/issues/109",
        note=(
            "Per-DAY limit still uses code rate_limit_exceeded with a computed wait ('7m12s'): long cooldown, not "
            "quota."
        ),
    ),
    ErrorSample(
        provider="openai",
        status=429,
        headers={},
        body=(
            '{"error":{"message":"You exceeded your current quota, please check your plan and billing details.",'
            '"type":"insufficient_quota","param":null,"code":"insufficient_quota"}}'
        ),
        expected="quota_exhausted",
        source="https://github.com/Chanzhaoyu/chatgpt-web/issues/1965",
        note="Same 429 status as rate limits; only error.code/type 'insufficient_quota' tells them apart. Never retry.",
    ),
    ErrorSample(
        provider="openai",
        status=429,
        headers={},
        body=(
            '{"error":{"message":"You exceeded your current quota, please check your plan and billing details. For '
            "more information on this error, read the docs: "
            'https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,'
            '"code":"insufficient_quota"}}'
        ),
        expected="quota_exhausted",
        source="https://github.com/ChatGPTNextWeb/NextChat/issues/4101",
        note="2024 wording with docs link; status not printed in the issue (429 per help.openai.com article 6891831).",
    ),
    ErrorSample(
        provider="openai",
        status=429,
        headers={},
        body=(
            '{"error":{"message":"You exceeded your current quota, please check your plan and billing details.",'
            '"type":"insufficient_quota","param":null,"code":null}}'
        ),
        expected="quota_exhausted",
        source="https://github.com/ChatGPTNextWeb/NextChat/issues/1792",
        note="Older (2023) shape: code is null, only error.type says insufficient_quota; status assumed 429.",
    ),
    ErrorSample(
        provider="openai",
        status=400,
        headers={},
        body=(
            '{"error":{"code":"billing_hard_limit_reached","message":"Billing hard limit has been reached",'
            '"param":null,"type":"invalid_request_error"}}'
        ),
        expected="quota_exhausted",
        source=(
            "https://community.openai.com/t/error-message-billing-hard-limit-reached-when-curling-https-api-ope"
            "nai-com-v1-images-generations/74856"
        ),
        note="Quota signal on a 400 with type invalid_request_error (images endpoint); must match on code, not status.",
    ),
    ErrorSample(
        provider="openai",
        status=401,
        headers={},
        body=(
            '{"error":{"message":"Incorrect API key provided: sk-abc12***************************************wxyz. You '
            'can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error",'
            '"param":null,"code":"invalid_api_key"}}'
        ),
        expected="invalid_key",
        source="https://github.com/chatanywhere/GPT_API_free/issues/62",
        note="ECHOES key material: first chars + last 4 of the sent key (faked here). Scrub before logging.",
    ),
    ErrorSample(
        provider="openai",
        status=401,
        headers={},
        body=(
            '{"error":{"message":"This key is associated with a deactivated account. If you feel this is an error, '
            'contact us through our help center at help.openai.com.","type":"invalid_request_error","param":null,'
            '"code":"account_deactivated"}}'
        ),
        expected="invalid_key",
        source="https://github.com/Zero6992/chatGPT-discord-bot/issues/442",
        note="Deactivated account (2023 wording): 401 code account_deactivated; permanent for this key.",
    ),
    ErrorSample(
        provider="openai",
        status=401,
        headers={},
        body=(
            '{"error":{"message":"The OpenAI account associated with this API key has been deactivated. If you are the '
            "developer for this OpenAI app, please check your email for more information. If you are seeing this error "
            'while using another app or site, please reach out to them for more help.","type":"invalid_request_error",'
            '"param":null,"code":"account_deactivated"}}'
        ),
        expected="invalid_key",
        source="https://github.com/ChatGPTNextWeb/NextChat/issues/4175",
        note="Deactivated account (2024 wording), status 401 shown in the issue.",
    ),
    ErrorSample(
        provider="openai",
        status=403,
        headers={},
        body=(
            '{"error":{"code":"unsupported_country_region_territory","message":"Country, region, or territory not '
            'supported","param":null,"type":"request_forbidden"}}'
        ),
        expected="client_error",
        source="https://github.com/home-assistant/core/issues/120072",
        note=(
            "Caller's egress IP/region is blocked, not the key: every key fails the same way, so do NOT disable keys; "
            "surface as client_error (from Python repr)."
        ),
    ),
    ErrorSample(
        provider="openai",
        status=400,
        headers={},
        body=(
            '{"error":{"message":"This model\'s maximum context length is 4097 tokens. However, your messages resulted '
            'in 4294 tokens. Please reduce the length of the messages.","type":"invalid_request_error",'
            '"param":"messages","code":"context_length_exceeded"}}'
        ),
        expected="client_error",
        source="https://github.com/chathub-dev/chathub/issues/126",
        note="Ordinary invalid_request_error (context_length_exceeded); status 400 not printed in this issue.",
    ),
    ErrorSample(
        provider="openai",
        status=404,
        headers={},
        body=(
            '{"error":{"message":"The model `gpt-4` does not exist or you do not have access to it. Learn more: '
            'https://help.openai.com/en/articles/7102672-how-can-i-access-gpt-4.","type":"invalid_request_error",'
            '"param":null,"code":"model_not_found"}}'
        ),
        expected="client_error",
        source="https://github.com/Chainlit/cookbook/issues/82",
        note=(
            "404 model_not_found: request/model problem (may also mean this key lacks model access); from Python repr."
        ),
    ),
    ErrorSample(
        provider="openai",
        status=500,
        headers={},
        body=(
            '{"error":{"message":"The server had an error processing your request. Sorry about that! You can retry '
            "your request, or contact us through our help center at help.openai.com if you keep seeing this error. "
            '(Please include the request ID e5c949c8ec2c86be225544e5eefcbe4d in your email.)","type":"server_error",'
            '"param":null,"code":null}}'
        ),
        expected="server_error",
        source="https://github.com/ai-genie/chatgpt-vscode/issues/100",
        note="HTTP 500 type server_error, code null.",
    ),
    ErrorSample(
        provider="openai",
        status=503,
        headers={},
        body=(
            '{"error":{"message":"That model is currently overloaded with other requests. You can retry your request, '
            "or contact us through our help center at help.openai.com if the error persists. (Please include the "
            'request ID 500d9fff2057e4af93a280f67002c342 in your message.)","type":"server_error","param":null,'
            '"code":null}}'
        ),
        expected="server_error",
        source="https://github.com/ikechan8370/chatgpt-plugin/issues/125",
        note="503 'model is currently overloaded' (engine overloaded); type server_error, code null.",
    ),
    ErrorSample(
        provider="openai",
        status=503,
        headers={},
        body='{"error":{"message":"Slow Down","type":"server_error","param":null,"code":"slow_down"}}',
        expected="rate_limited",
        source="https://platform.openai.com/docs/guides/error-codes",
        note=(
            "RECONSTRUCTED from docs prose ('503 - Slow Down: sudden increase in your request rate'); no real body "
            "found. Newer docs say slow_down now arrives as 429 type rate_limit_error. Key-agnostic: back off, don't "
            "rotate."
        ),
    ),
    ErrorSample(
        provider="azure",
        status=429,
        headers={},
        body='{"error":{"code":"429","message":"Rate limit is exceeded. Try again in 50 seconds."}}',
        expected="rate_limited",
        source="https://github.com/Azure-Samples/graphrag-accelerator/issues/129",
        note="Short Azure 429 form; error.code is the STRING '429'; wait only in prose. From Python repr.",
    ),
    ErrorSample(
        provider="azure",
        status=429,
        headers={"retry-after": "6", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-remaining-requests": "12"},
        body=(
            '{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API '
            "version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry "
            'after 6 seconds."}}'
        ),
        expected="rate_limited",
        source="https://www.dotnetstudioai.com/hospital/fix-429-rate-limit-exceeded-azure-openai-dotnet",
        note=(
            "Classic Azure TPM body + Retry-After seconds; from a blog write-up (not an SDK log). Azure also documents "
            "retry-after-ms (float ms, see github:Azure/azure-openai-benchmark/benchmark/oairequester.py); no captured "
            "value."
        ),
    ),
    ErrorSample(
        provider="azure",
        status=429,
        headers={},
        body=(
            '{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API '
            "version 2023-05-15 have exceeded token rate limit of your current AIServices S0 pricing tier. Please "
            "retry after 86400 seconds. Please contact Azure support service if you would like to further increase the "
            'default rate limit."}}'
        ),
        expected="quota_exhausted",
        source="https://github.com/jasonacox/TinyLLM/issues/17",
        note=(
            "Worded as a rate limit but 'retry after 86400 seconds' = a day: treat waits >= ~1h as quota_exhausted. "
            "Inner body unwrapped from a LiteLLM error (Python repr)."
        ),
    ),
    ErrorSample(
        provider="azure",
        status=401,
        headers={},
        body=(
            '{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. '
            "Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for "
            'your resource."}}'
        ),
        expected="invalid_key",
        source="https://github.com/SciSharp/BotSharp/issues/386",
        note="401 with code '401'; same text for a wrong key AND a wrong endpoint, so it can be a config error too.",
    ),
    ErrorSample(
        provider="azure",
        status=401,
        headers={},
        body=(
            '{"error":{"code":"Unauthorized","message":"Access denied due to invalid subscription key or wrong API '
            "endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API "
            'endpoint for your resource."}}'
        ),
        expected="invalid_key",
        source="https://github.com/vercel/chatbot/issues/588",
        note="Variant where error.code is 'Unauthorized' instead of '401' (api-version 2024-02-15-preview).",
    ),
    ErrorSample(
        provider="azure",
        status=403,
        headers={},
        body='{"statusCode":403,"message":"Out of call volume quota. Quota will be replenished in 22.14:18:12."}',
        expected="quota_exhausted",
        source="https://github.com/goferito/node-bing-api/issues/34",
        note="Azure Cognitive Services/APIM gateway shape (Bing API), not AOAI-specific; replenish time is d.hh:mm:ss.",
    ),
    ErrorSample(
        provider="azure",
        status=403,
        headers={"policy-id": "ThrowExceptionDueToTrafficDenied"},
        body='{"error":{"code":"403","message":"Access denied due to Virtual Network/Firewall rules."}}',
        expected="client_error",
        source="https://github.com/Azure-Samples/azure-sql-db-chatbot/issues/3",
        note=(
            "Resource firewall blocks this caller's network, not the key: every key on this endpoint fails alike, so "
            "no key is disabled (client_error)."
        ),
    ),
    ErrorSample(
        provider="azure",
        status=400,
        headers={},
        body=(
            '{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI\'s content '
            "management policy. Please modify your prompt and retry. To learn more about our content filtering "
            'policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766","type":null,'
            '"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation",'
            '"content_filter_result":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,'
            '"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,'
            '"severity":"safe"},"violence":{"filtered":true,"severity":"medium"}}}}}'
        ),
        expected="client_error",
        source="https://github.com/compl-ai/compl-ai/issues/20",
        note="content_filter 400 with innererror ResponsibleAIPolicyViolation; prompt problem, never rotate keys.",
    ),
    ErrorSample(
        provider="azure",
        status=400,
        headers={},
        body=(
            '{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI\\u2019s content '
            "management policy. Please modify your prompt and retry. To learn more about our content filtering "
            'policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766","type":null,'
            '"param":"prompt","code":"content_filter","status":400}}'
        ),
        expected="client_error",
        source="https://github.com/openai/openai-python/issues/331",
        note="2023 content_filter form without innererror (note the U+2019 apostrophe, JSON-escaped here).",
    ),
    ErrorSample(
        provider="anthropic",
        status=429,
        headers={},
        body=(
            '{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit '
            "for your organization (---) of 20,000 input tokens per minute. For details, refer to: "
            "https://docs.anthropic.com/en/api/rate-limits. You can see the response headers for current usage. Please "
            "reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales "
            'at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."}}'
        ),
        expected="rate_limited",
        source="https://github.com/Trae-AI/TRAE/issues/625",
        note="Input-tokens-per-minute 429 (org id already redacted as '---' in the source).",
    ),
    ErrorSample(
        provider="anthropic",
        status=429,
        headers={
            "retry-after": "16",
            "x-should-retry": "true",
            "anthropic-ratelimit-input-tokens-limit": "200000",
            "anthropic-ratelimit-input-tokens-remaining": "0",
            "anthropic-ratelimit-input-tokens-reset": "2025-06-02T15:15:48Z",
            "anthropic-ratelimit-output-tokens-limit": "80000",
            "anthropic-ratelimit-output-tokens-remaining": "80000",
            "anthropic-ratelimit-output-tokens-reset": "2025-06-02T15:14:45Z",
            "anthropic-ratelimit-requests-limit": "4000",
            "anthropic-ratelimit-requests-remaining": "4000",
            "anthropic-ratelimit-requests-reset": "2025-06-02T15:14:45Z",
            "anthropic-ratelimit-tokens-limit": "280000",
            "anthropic-ratelimit-tokens-remaining": "80000",
            "anthropic-ratelimit-tokens-reset": "2025-06-02T15:14:45Z",
        },
        body=(
            '{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit '
            "for your organization (00000000-0000-0000-0000-000000000000) of 200,000 input tokens per minute. For "
            "details, refer to: https://docs.anthropic.com/en/api/rate-limits. You can see the response headers for "
            "current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You "
            "may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate "
            'limit increase."}}'
        ),
        expected="rate_limited",
        source="https://github.com/whoz-oss/coday/issues/110",
        note=(
            "Headers are a real 429 capture (RFC 3339 resets, retry-after seconds); body NOT shown there, "
            "RECONSTRUCTED from the standard ITPM message for the 200,000 limit in the headers."
        ),
    ),
    ErrorSample(
        provider="anthropic",
        status=429,
        headers={},
        body=(
            '{"type":"error","error":{"type":"rate_limit_error","message":"Rate limited"},'
            '"request_id":"req_011CcQsDhT3bVPHSn3vhf3rp"}'
        ),
        expected="rate_limited",
        source="https://github.com/anthropics/claude-code/issues/71503",
        note="Terse 429 'Rate limited' with top-level request_id (2026 shape).",
    ),
    ErrorSample(
        provider="anthropic",
        status=429,
        headers={},
        body=(
            '{"error":{"code":"rate_limit_error","message":"This request would exceed the rate limit for your '
            "organization of 20,000 input tokens per minute. For details, refer to: "
            "https://docs.anthropic.com/en/api/rate-limits. You can see the response headers for current usage. Please "
            "reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales "
            'at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.",'
            '"type":"invalid_request_error","param":null}}'
        ),
        expected="rate_limited",
        source="https://github.com/FoundationAgents/OpenManus/issues/746",
        note=(
            "Anthropic OpenAI-compatible endpoint: type says invalid_request_error but code is rate_limit_error; trust "
            "status 429/code, not type. From Python repr."
        ),
    ),
    ErrorSample(
        provider="anthropic",
        status=429,
        headers={},
        body=(
            '{"type":"error","error":{"type":"rate_limit_error","message":"Extra usage is required for long context '
            'requests."},"request_id":"req_011CZTxMdaHqLNSHtJGUM7mh"}'
        ),
        expected="rate_limited",
        source="https://github.com/anthropics/claude-code/issues/39948",
        note=(
            "rate_limit_error gating long-context requests only: the key still serves short ones, so it cools like a "
            "rate limit (next key for this request) rather than being parked for an hour."
        ),
    ),
    ErrorSample(
        provider="anthropic",
        status=400,
        headers={},
        body=(
            '{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to '
            'access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."},'
            '"request_id":"req_011CbrFTcXhtiMzr3s6EocF7"}'
        ),
        expected="quota_exhausted",
        source="https://github.com/anthropics/claude-code/issues/66314",
        note="Out of credits arrives as 400 invalid_request_error, not 402/429: match the message text.",
    ),
    ErrorSample(
        provider="anthropic",
        status=400,
        headers={},
        body=(
            '{"type":"error","error":{"type":"invalid_request_error","message":"You have reached your specified API '
            'usage limits. You will regain access on 2026-04-01 at 00:00 UTC."},'
            '"request_id":"req_011CZLrUfBVkVHn5T6EqQaf7"}'
        ),
        expected="quota_exhausted",
        source="https://github.com/anthropics/claude-code/issues/38035",
        note="Self-set spend limit: 400; parse 'regain access on YYYY-MM-DD at HH:MM UTC' as the cooldown end.",
    ),
    ErrorSample(
        provider="anthropic",
        status=400,
        headers={},
        body=(
            '{"type":"error","error":{"type":"invalid_request_error","message":"You have reached your specified API '
            'usage limits. You will regain access on 2025-07-01 at 00:00 UTC."}}'
        ),
        expected="quota_exhausted",
        source="https://github.com/anthropics/claude-code/issues/2127",
        note="Same as above, older shape without request_id (2025).",
    ),
    ErrorSample(
        provider="anthropic",
        status=400,
        headers={},
        body=(
            '{"type":"error","error":{"type":"invalid_request_error","message":"This organization has been disabled."},'
            '"request_id":"req_011CXF1SZ3S3oXChsdxhoUwV"}'
        ),
        expected="invalid_key",
        source="https://github.com/anthropics/claude-code/issues/19028",
        note="Banned/disabled org comes as 400 invalid_request_error: permanent, remove the key.",
    ),
    ErrorSample(
        provider="anthropic",
        status=401,
        headers={},
        body='{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}',
        expected="invalid_key",
        source="https://github.com/ItzCrazyKns/Vane/issues/303",
        note="Classic 401 authentication_error (no request_id, 2024).",
    ),
    ErrorSample(
        provider="anthropic",
        status=401,
        headers={},
        body=(
            '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},'
            '"request_id":"req_011CaJCR7Pm2Jh2LbWpBH5Y6"}'
        ),
        expected="invalid_key",
        source="https://github.com/emilsvennesson/opencode-websearch/issues/15",
        note="Same with top-level request_id (2026). No key material echoed.",
    ),
    ErrorSample(
        provider="anthropic",
        status=403,
        headers={},
        body=(
            '{"type":"error","error":{"type":"permission_error","message":"Permission denied"},'
            '"request_id":"req_011CaH53rCYtDAVnwhLQvkuc"}'
        ),
        expected="invalid_key",
        source="https://github.com/anthropics/claude-code/issues/51610",
        note=(
            "permission_error: key not allowed for this resource; key-level (maybe model-scoped), retrying won't help."
        ),
    ),
    ErrorSample(
        provider="anthropic",
        status=404,
        headers={},
        body='{"type":"error","error":{"type":"not_found_error","message":"model: claude-3-5-sonnet-20241022 "}}',
        expected="client_error",
        source="https://github.com/mattermost/mattermost-plugin-agents/issues/257",
        note="Unknown/unavailable model; note the trailing space inside the message, kept as in the source.",
    ),
    ErrorSample(
        provider="anthropic",
        status=413,
        headers={},
        body='{"error":{"type":"request_too_large","message":"Request exceeds the maximum size"}}',
        expected="client_error",
        source="https://github.com/anthropics/claude-code/issues/14567",
        note="Cloudflare-generated 413: no top-level 'type':'error' wrapper and no request_id.",
    ),
    ErrorSample(
        provider="anthropic",
        status=413,
        headers={},
        body=(
            '{"type":"error","error":{"type":"invalid_request_error","message":"Request size exceeds model context '
            'window"},"request_id":"req_011CSPcqZdo6LyizAPMiXnnC"}'
        ),
        expected="client_error",
        source="https://github.com/anthropics/claude-code/issues/6380",
        note="413 whose error.type is invalid_request_error (context-window overflow, not byte size).",
    ),
    ErrorSample(
        provider="anthropic",
        status=500,
        headers={},
        body=(
            '{"type":"error","error":{"type":"api_error","message":"Internal server error"},'
            '"request_id":"req_011CXmPn4sWVBtPcXwdGzwZ7"}'
        ),
        expected="server_error",
        source="https://github.com/anthropics/claude-code/issues/22797",
        note="500 api_error.",
    ),
    ErrorSample(
        provider="anthropic",
        status=529,
        headers={"x-should-retry": "true"},
        body='{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
        expected="server_error",
        source="https://github.com/anthropics/anthropic-sdk-typescript/issues/616",
        note="529 overloaded_error; headers in the source carry x-should-retry: true and no retry-after.",
    ),
    ErrorSample(
        provider="anthropic",
        status=402,
        headers={},
        body=(
            '{"type":"error","error":{"type":"billing_error","message":"There\'s an issue with your billing or payment '
            'information."}}'
        ),
        expected="quota_exhausted",
        source="https://platform.claude.com/docs/claude/reference/errors",
        note=(
            "RECONSTRUCTED: type/status from the errors docs listing; message is a paraphrase, not verified wording. "
            "No real 402 body found: real credit exhaustion shows up as the 400 invalid_request_error above."
        ),
    ),
    ErrorSample(
        provider="gemini",
        status=429,
        headers={},
        body=(
            '{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing '
            'details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",'
            '"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure",'
            '"violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_input_t'
            'oken_count",'
            '"quotaId":"GenerateContentInputTokensPerModelPerMinute-FreeTier","quotaDimensions":{"location":"global",'
            '"model":"gemini-2.5-pro"},"quotaValue":"250000"}]},{"@type":"type.googleapis.com/google.rpc.Help",'
            '"links":[{"description":"Learn more about Gemini API quotas",'
            '"url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]},'
            '{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"21s"}]}}'
        ),
        expected="rate_limited",
        source="https://github.com/glidea/one-balance/issues/22",
        note=(
            "Per-MINUTE input-token quota (GenerateContentInputTokensPerModelPerMinute-FreeTier, quotaValue 250000) + "
            "RetryInfo '21s'."
        ),
    ),
    ErrorSample(
        provider="gemini",
        status=429,
        headers={},
        body=(
            '{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing '
            'details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",'
            '"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure",'
            '"violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_input_t'
            'oken_count",'
            '"quotaId":"GenerateContentInputTokensPerModelPerMinute-FreeTier","quotaDimensions":{"location":"global",'
            '"model":"gemini-2.5-flash"},"quotaValue":"250000"}]},{"@type":"type.googleapis.com/google.rpc.Help",'
            '"links":[{"description":"Learn more about Gemini API quotas",'
            '"url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]},'
            '{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"26s"}]}}'
        ),
        expected="rate_limited",
        source="https://github.com/RooCodeInc/Roo-Code/issues/3883",
        note=(
            "Same per-minute token quota for gemini-2.5-flash, retryDelay '26s' (body was JSON-in-a-string in the "
            "source)."
        ),
    ),
    ErrorSample(
        provider="gemini",
        status=429,
        headers={},
        body=(
            '{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing '
            'details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",'
            '"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.Help",'
            '"links":[{"description":"Learn more about Gemini API quotas",'
            '"url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]},'
            '{"@type":"type.googleapis.com/google.rpc.QuotaFailure",'
            '"violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests",'
            '"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier","quotaDimensions":{"location":"global",'
            '"model":"gemini-2.0-flash"}},'
            '{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests",'
            '"quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier","quotaDimensions":{"location":"global",'
            '"model":"gemini-2.0-flash"}},'
            '{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_input_token_count",'
            '"quotaId":"GenerateContentInputTokensPerModelPerMinute-FreeTier","quotaDimensions":{"location":"global",'
            '"model":"gemini-2.0-flash"}}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"47s"}]}}'
        ),
        expected="quota_exhausted",
        source="https://github.com/googleapis/python-genai/issues/2044",
        note=(
            "Per-DAY violation listed next to per-minute ones; retryDelay '47s' is misleading. Details verbatim; "
            "code/message/status head RECONSTRUCTED (cut off in the log)."
        ),
    ),
    ErrorSample(
        provider="gemini",
        status=429,
        headers={},
        body=(
            '{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing '
            "details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. "
            "To monitor your current usage, head to: https://ai.dev/rate-limit. \\n* Quota exceeded for metric: "
            "generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 0, model: "
            "gemini-2.0-flash\\n* Quota exceeded for metric: "
            "generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 0, model: "
            "gemini-2.0-flash\\n* Quota exceeded for metric: "
            "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count, limit: 0, model: "
            'gemini-2.0-flash\\nPlease retry in 6.170646457s.","status":"RESOURCE_EXHAUSTED",'
            '"details":[{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about '
            'Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]}]}}'
        ),
        expected="quota_exhausted",
        source="https://github.com/continuedev/continue/issues/10548",
        note=(
            "'limit: 0' = model not available on this key's tier: permanent despite 'retry in 6.17s'. "
            "QuotaFailure/RetryInfo details were cut off in the source and are omitted."
        ),
    ),
    ErrorSample(
        provider="gemini",
        status=429,
        headers={},
        body=(
            '{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).",'
            '"status":"RESOURCE_EXHAUSTED"}}'
        ),
        expected="rate_limited",
        source="https://github.com/googleapis/python-genai/issues/2065",
        note=(
            "429 with NO details at all (paid Tier 1): cannot tell minute from day; back off, escalate if it persists."
        ),
    ),
    ErrorSample(
        provider="gemini",
        status=429,
        headers={},
        body=(
            '{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing '
            'details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",'
            '"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.Help",'
            '"links":[{"description":"Learn more about Gemini API quotas",'
            '"url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]}]}}'
        ),
        expected="rate_limited",
        source="https://github.com/googleapis/python-genai/issues/1427",
        note="Quota wording but only a Help detail (tier 3, grounding): reporter hit a daily cap, body can't show it.",
    ),
    ErrorSample(
        provider="gemini",
        status=429,
        headers={},
        body=(
            '{"error":{"code":429,"message":"Quota exceeded for quota metric \'Generate Content API requests per '
            "minute' and limit 'GenerateContent request limit per minute for a region' of service "
            "'generativelanguage.googleapis.com' for consumer 'project_number:123456789012'.\","
            '"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",'
            '"reason":"RATE_LIMIT_EXCEEDED","domain":"googleapis.com","metadata":{"quota_location":"us-east2",'
            '"service":"generativelanguage.googleapis.com","consumer":"projects/123456789012","quota_limit_value":"60",'
            '"quota_metric":"generativelanguage.googleapis.com/generate_content_requests",'
            '"quota_limit":"GenerateContentRequestsPerMinutePerProjectPerRegion"}},'
            '{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Request a higher quota limit.",'
            '"url":"https://cloud.google.com/docs/quota#requesting_higher_quota"}]}]}}'
        ),
        expected="rate_limited",
        source="https://github.com/xtekky/gpt4free/issues/1700",
        note=(
            "2024 style: ErrorInfo RATE_LIMIT_EXCEEDED + metadata.quota_limit (PerMinute). Message/details verbatim, "
            "code/status wrapper reconstructed; project number faked (the source also leaked a key in the URL)."
        ),
    ),
    ErrorSample(
        provider="gemini",
        status=429,
        headers={},
        body=(
            '{"error":{"code":429,"message":"Quota exceeded for quota metric \'Generate Content API requests per '
            "minute' and limit 'GenerateContent request limit per minute for a region' of service "
            "'generativelanguage.googleapis.com' for consumer 'project_number:123456789012'.\","
            '"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",'
            '"reason":"RATE_LIMIT_EXCEEDED","domain":"googleapis.com",'
            '"metadata":{"service":"generativelanguage.googleapis.com",'
            '"quota_metric":"generativelanguage.googleapis.com/generate_content_requests","quota_location":"us-west4",'
            '"quota_limit":"GenerateContentRequestsPerMinutePerProjectPerRegion","quota_limit_value":"0",'
            '"consumer":"projects/123456789012"}}]}}'
        ),
        expected="quota_exhausted",
        source="https://github.com/google-gemini/deprecated-generative-ai-python/issues/206",
        note=(
            "Per-minute quota whose quota_limit_value is '0' (region has no access): permanent, 'for OVER A DAY'. "
            "CONVERTED from gRPC text format to JSON; project number faked."
        ),
    ),
    ErrorSample(
        provider="gemini",
        status=400,
        headers={},
        body=(
            '{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.",'
            '"status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",'
            '"reason":"API_KEY_INVALID","domain":"googleapis.com",'
            '"metadata":{"service":"generativelanguage.googleapis.com"}},'
            '{"@type":"type.googleapis.com/google.rpc.LocalizedMessage","locale":"en-US","message":"API key not valid. '
            'Please pass a valid API key."}]}}'
        ),
        expected="invalid_key",
        source="https://github.com/continuedev/continue/issues/8516",
        note="Bad key is a 400 INVALID_ARGUMENT (not 401): use ErrorInfo.reason API_KEY_INVALID.",
    ),
    ErrorSample(
        provider="gemini",
        status=400,
        headers={},
        body=(
            '{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.",'
            '"status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",'
            '"reason":"API_KEY_INVALID","domain":"googleapis.com",'
            '"metadata":{"service":"generativelanguage.googleapis.com"}},'
            '{"@type":"type.googleapis.com/google.rpc.LocalizedMessage","locale":"en-US","message":"API key not valid. '
            'Please pass a valid API key."},{"@type":"type.googleapis.com/google.rpc.DebugInfo","detail":"Invalid API '
            'key: INVALID_KEY_BLAH"}]}}'
        ),
        expected="invalid_key",
        source="https://github.com/google/timesketch/pull/3703",
        note=(
            "ECHOES THE KEY: DebugInfo.detail repeats the sent key ('INVALID_KEY_BLAH' in the source). From Python "
            "repr."
        ),
    ),
    ErrorSample(
        provider="gemini",
        status=400,
        headers={},
        body=(
            '{"error":{"code":400,"message":"API Key not found. Please pass a valid API key.",'
            '"status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",'
            '"reason":"API_KEY_INVALID","domain":"googleapis.com",'
            '"metadata":{"service":"generativelanguage.googleapis.com"}}]}}'
        ),
        expected="invalid_key",
        source="https://github.com/google-gemini/gemini-cli/issues/25198",
        note=(
            "'API Key not found' wording (deleted key), same reason API_KEY_INVALID; tail after 'metadata' "
            "reconstructed."
        ),
    ),
    ErrorSample(
        provider="gemini",
        status=400,
        headers={},
        body=(
            '{"error":{"code":400,"message":"API key expired. Please renew the API key.","status":"INVALID_ARGUMENT",'
            '"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID",'
            '"domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}},'
            '{"@type":"type.googleapis.com/google.rpc.LocalizedMessage","locale":"en-US","message":"API key expired. '
            'Please renew the API key."}]}}'
        ),
        expected="invalid_key",
        source="https://github.com/continuedev/continue/issues/11336",
        note="Expired key: reason is ALSO API_KEY_INVALID (no separate API_KEY_EXPIRED); only the message differs.",
    ),
    ErrorSample(
        provider="gemini",
        status=403,
        headers={},
        body=(
            '{"error":{"code":403,"message":"Permission denied: Consumer \'api_key:AIzaSyAbc...wxyz\' has been '
            'suspended.","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",'
            '"reason":"CONSUMER_SUSPENDED","domain":"googleapis.com","metadata":{"consumer":"projects/123456789012",'
            '"service":"generativelanguage.googleapis.com","containerInfo":"api_key:AIzaSyAbc...wxyz"}},'
            '{"@type":"type.googleapis.com/google.rpc.LocalizedMessage","locale":"en-US","message":"Permission denied: '
            "Consumer 'api_key:AIzaSyAbc...wxyz' has been suspended.\"}]}}"
        ),
        expected="invalid_key",
        source="https://github.com/continuedev/continue/issues/10902",
        note="ECHOES THE FULL KEY three times (message, containerInfo, LocalizedMessage); faked here. Suspended key.",
    ),
    ErrorSample(
        provider="gemini",
        status=403,
        headers={},
        body=(
            '{"error":{"code":403,"message":"Requests to this API generativelanguage.googleapis.com method '
            'google.ai.generativelanguage.v1beta.GenerativeService.StreamGenerateContent are blocked.",'
            '"status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",'
            '"reason":"API_KEY_SERVICE_BLOCKED","domain":"googleapis.com",'
            '"metadata":{"consumer":"projects/123456789012","service":"generativelanguage.googleapis.com",'
            '"apiName":"generativelanguage.googleapis.com",'
            '"methodName":"google.ai.generativelanguage.v1beta.GenerativeService.StreamGenerateContent"}},'
            '{"@type":"type.googleapis.com/google.rpc.LocalizedMessage","locale":"en-US","message":"Requests to this '
            "API generativelanguage.googleapis.com method "
            'google.ai.generativelanguage.v1beta.GenerativeService.StreamGenerateContent are blocked."}]}}'
        ),
        expected="invalid_key",
        source="https://github.com/continuedev/continue/issues/12781",
        note="API_KEY_SERVICE_BLOCKED: key's API restrictions exclude Generative Language API; permanent for this key.",
    ),
    ErrorSample(
        provider="gemini",
        status=403,
        headers={},
        body=(
            '{"error":{"code":403,"message":"Your API key was reported as leaked. Please use another API key.",'
            '"status":"PERMISSION_DENIED"}}'
        ),
        expected="invalid_key",
        source="https://github.com/continuedev/continue/issues/11541",
        note="Leaked-key block: no details/ErrorInfo at all, only the message identifies it.",
    ),
    ErrorSample(
        provider="gemini",
        status=403,
        headers={},
        body=(
            '{"error":{"code":403,"message":"Your project has been denied access. Please contact support.",'
            '"status":"PERMISSION_DENIED"}}'
        ),
        expected="invalid_key",
        source="https://github.com/poenl/gemini-api/issues/8",
        note="Project-level ban, no details; affects every key of that project. From Python repr.",
    ),
    ErrorSample(
        provider="gemini",
        status=400,
        headers={},
        body=(
            '{"error":{"code":400,"message":"User location is not supported for the API use.",'
            '"status":"FAILED_PRECONDITION"}}'
        ),
        expected="client_error",
        source="https://github.com/Xeift/Telegram-Discord-Bot/issues/4",
        note="Region block of the caller (e.g. Cloudflare HK egress), not the key: don't disable keys.",
    ),
    ErrorSample(
        provider="gemini",
        status=500,
        headers={},
        body=(
            '{"error":{"code":500,"message":"An internal error has occurred. Please retry or report in '
            'https://developers.generativeai.google/guide/troubleshooting","status":"INTERNAL"}}'
        ),
        expected="server_error",
        source="https://github.com/google-gemini/gemini-cli/issues/3665",
        note="500 INTERNAL.",
    ),
    ErrorSample(
        provider="gemini",
        status=503,
        headers={},
        body=(
            '{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}'
        ),
        expected="server_error",
        source="https://github.com/google-gemini/cookbook/issues/425",
        note="503 UNAVAILABLE 'model is overloaded'. From Python repr.",
    ),
    ErrorSample(
        provider="groq",
        status=429,
        headers={
            "retry-after": "2",
            "x-ratelimit-limit-requests": "14400",
            "x-ratelimit-limit-tokens": "18000",
            "x-ratelimit-remaining-requests": "14370",
            "x-ratelimit-remaining-tokens": "17997",
            "x-ratelimit-reset-requests": "2m59.56s",
            "x-ratelimit-reset-tokens": "7.66s",
        },
        body=(
            '{"error":{"message":"Rate limit reached for model `llama-3.3-70b-versatile` in organization '
            "`org_00000000000000000000000000` service tier `on_demand` on tokens per minute (TPM): Limit 12000, Used "
            "2542, Requested 9855. Please try again in 1.984999999s. Need more tokens? Upgrade to Dev Tier today at "
            'https://console.groq.com/settings/billing","type":"tokens","code":"rate_limit_exceeded"}}'
        ),
        expected="rate_limited",
        source="https://github.com/ago19800/HomeMind/issues/29",
        note=(
            "Body real (Python repr, org faked). Headers are Groq's documented illustrative values (quoted in "
            "Pythagora-io/gpt-pilot#862), not from this capture: *-requests is per DAY, *-tokens per MINUTE."
        ),
    ),
    ErrorSample(
        provider="groq",
        status=429,
        headers={},
        body=(
            '{"error":{"message":"Rate limit reached for model `llama3-70b-8192` in organization '
            "`org_00000000000000000000000000` on tokens per minute (TPM): Limit 7000, Used 0, Requested ~12903. Please "
            'try again in 50.597142857s. Visit https://console.groq.com/docs/rate-limits for more information.",'
            '"type":"tokens","code":"rate_limit_exceeded"}}'
        ),
        expected="client_error",
        source="https://github.com/danielmiessler/Fabric/issues/364",
        note="429 that can NEVER succeed: Requested ~12903 > Limit 7000 with Used 0; waiting is futile on this tier.",
    ),
    ErrorSample(
        provider="groq",
        status=413,
        headers={},
        body=(
            '{"error":{"message":"Request too large for model llama-3.1-8b-instant in organization org_xxxxxxx service '
            "tier on_demand on tokens per minute (TPM): Limit 6000, Requested 12328, please reduce your message size "
            'and try again. Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing",'
            '"type":"tokens","code":"rate_limit_exceeded"}}'
        ),
        expected="client_error",
        source="https://github.com/HunorLaczko/ha-groq-cloud-api/issues/27",
        note="413 carrying code rate_limit_exceeded: request bigger than the TPM limit; don't treat as rate limit.",
    ),
    ErrorSample(
        provider="mistral",
        status=429,
        headers={},
        body=(
            '{"object":"error","message":"Rate limit exceeded","type":"rate_limited","param":null,"code":"1300",'
            '"raw_status_code":429}'
        ),
        expected="rate_limited",
        source="https://github.com/raycast/extensions/issues/31107",
        note="Mistral shape: top-level object='error', type 'rate_limited', numeric-string code '1300'.",
    ),
    ErrorSample(
        provider="mistral",
        status=429,
        headers={},
        body='{"message":"Requests rate limit exceeded"}',
        expected="rate_limited",
        source="https://github.com/dnakov/anon-kode/issues/53",
        note=(
            "Older bare shape (free 'Experiment' plan, 1 req/s). Note: vanna-ai/vanna#177 reports 429 also for an "
            "exhausted monthly usage limit, with no way to tell from the body."
        ),
    ),
    ErrorSample(
        provider="mistral",
        status=401,
        headers={},
        body='{"detail":"Unauthorized"}',
        expected="invalid_key",
        source="https://github.com/agent0ai/agent-zero/issues/539",
        note=(
            "Bare 401; diegosouzapw/OmniRoute#7638 reports the byte-identical body for a VALID key that hit 100% of a "
            "Vibe plan quota, so a pool may want to re-probe before deleting."
        ),
    ),
    ErrorSample(
        provider="deepseek",
        status=402,
        headers={},
        body=(
            '{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,'
            '"code":"invalid_request_error"}}'
        ),
        expected="quota_exhausted",
        source="https://github.com/Aider-AI/aider/issues/4851",
        note=(
            "Status 402 (see continuedev/continue#9942) but type 'unknown_error' / code 'invalid_request_error': use "
            "status."
        ),
    ),
    ErrorSample(
        provider="deepseek",
        status=401,
        headers={},
        body=(
            '{"error":{"message":"Authentication Fails, Your API key: ****eek} is invalid",'
            '"type":"authentication_error","param":null,"code":"invalid_request_error"}}'
        ),
        expected="invalid_key",
        source="https://github.com/szczyglis-dev/py-gpt/issues/112",
        note="ECHOES the last 4 chars of whatever was sent as the key (here a config typo 'eek}'). From Python repr.",
    ),
    ErrorSample(
        provider="deepseek",
        status=401,
        headers={},
        body=(
            '{"error":{"message":"Authentication Fails (no such user)","type":"authentication_error","param":null,'
            '"code":"invalid_request_error"}}'
        ),
        expected="invalid_key",
        source="https://github.com/deepseek-ai/DeepSeek-R1/issues/82",
        note="Other 401 wording; reported during a DeepSeek outage, so a brand-new key can transiently get it.",
    ),
    ErrorSample(
        provider="openrouter",
        status=402,
        headers={},
        body=(
            '{"error":{"message":"Insufficient credits. Add more using https://openrouter.ai/settings/credits",'
            '"code":402,"metadata":{"limit_source":"openrouter_credits","remedy_hint":"Add credits at '
            "https://openrouter.ai/settings/credits, or lower max_tokens / prompt size to fit your remaining "
            'balance."}}}'
        ),
        expected="quota_exhausted",
        source="https://github.com/open-assistant-org/open-assistant/issues/80",
        note=(
            "OpenRouter shape: numeric error.code == status; metadata.limit_source says which budget. From Python repr."
        ),
    ),
    ErrorSample(
        provider="openrouter",
        status=402,
        headers={},
        body=(
            '{"error":{"message":"This request requires more credits, or fewer max_tokens. You requested up to 64000 '
            "tokens, but can only afford 2666. To increase, visit https://openrouter.ai/settings/credits and upgrade "
            'to a paid account","code":402,"metadata":{"provider_name":null}},'
            '"user_id":"user_00000000000000000000000000"}'
        ),
        expected="quota_exhausted",
        source="https://github.com/astrio-labs/forall/issues/76",
        note="Low balance vs max_tokens: a smaller max_tokens would pass. Echoes account user_id (faked).",
    ),
    ErrorSample(
        provider="openrouter",
        status=429,
        headers={},
        body=(
            '{"error":{"message":"Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model '
            'requests per day","code":429,"metadata":{"headers":{"X-RateLimit-Limit":"50",'
            '"X-RateLimit-Remaining":"0"}}}}'
        ),
        expected="quota_exhausted",
        source="https://github.com/Gitlawb/openclaude/issues/936",
        note=(
            "Daily free-model cap on 429; rate-limit headers are INSIDE error.metadata.headers. Source cut after "
            "X-RateLimit-Remaining (real body also has X-RateLimit-Reset, epoch ms); closing braces reconstructed."
        ),
    ),
    ErrorSample(
        provider="together",
        status=429,
        headers={},
        body=(
            '{"error":{"message":"You have been rate limited. Your rate limit is 60 queries per minute. Please '
            'navigate to https://api.together.xyz/settings/billing to upgrade to a paid plan.","type":"credit_limit",'
            '"param":null,"code":null}}'
        ),
        expected="rate_limited",
        source="https://github.com/togethercomputer/MoA/issues/27",
        note=(
            "type says 'credit_limit' but it is a per-minute rate limit; status not printed (429 assumed). From Python "
            "repr."
        ),
    ),
]
