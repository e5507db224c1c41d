-- static.lua: the same request every time (headers come from wrk -H); used
-- for the plain and guarded proxies with one reused token.
dofile(os.getenv("SG_LOAD_DIR") .. "/results.lua")
