-- wrk script: POST the body in $BODY with the headers in $HEADERS (a JSON
-- object of name: value, flat strings only) to the URL; bench/express.py
-- runs it. wrk counts non-2xx answers.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
for name, value in string.gmatch(os.getenv("HEADERS") or "{}", '"([^"]+)"%s*:%s*"([^"]*)"') do
  wrk.headers[name] = value
end
