-- rotating.lua: every request carries the next token of a pool (the file
-- named by SG_TOKENS, one token per line). The pool is larger than the
-- gateway's verified-token cache and is walked in order, so an LRU cache
-- never holds the token that comes next: each request costs a signature check.
-- Requests are formatted once in init, so wrk spends the same per request as
-- with a static one.
dofile(os.getenv("SG_LOAD_DIR") .. "/results.lua")

local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

function init(args)
  local path = os.getenv("SG_TOKENS")
  local tokens = {}
  for line in io.lines(path) do
    if line ~= "" then
      tokens[#tokens + 1] = line
    end
  end
  if #tokens == 0 then
    error("no tokens in " .. path)
  end
  -- Threads start half a pool apart so they do not present the same token
  -- at the same moment.
  local offset = math.floor(#tokens * (thread_index or 0) / 2)
  reqs = {}
  for i = 1, #tokens do
    local tok = tokens[((i - 1 + offset) % #tokens) + 1]
    reqs[i] = wrk.format("GET", "/orders/1", { Authorization = "Bearer " .. tok })
  end
  n = 0
end

function request()
  n = n + 1
  if n > #reqs then
    n = 1
  end
  return reqs[n]
end
