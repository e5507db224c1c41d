-- token.lua: a client_credentials token request, form-encoded, with the
-- client authenticated by HTTP Basic (SG_BASIC is base64 of id:secret) and
-- the scope in SG_FORM. The same request goes to the token endpoint and to the
-- `respond` route it is compared with.
dofile(os.getenv("SG_LOAD_DIR") .. "/results.lua")

wrk.method = "POST"
wrk.body = os.getenv("SG_FORM")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("SG_BASIC")
