// A Worker of the same account with a service binding to keyedge (tests/e2e/rpc.test.mjs):
// what it can reach through the binding besides `fetch`. Not product code.
export default {
  async fetch(request, env) {
    const tried = {};
    // A gated site's page as keyedge's shell would fetch it, with a `finish` of its own.
    const page = {
      toAssets: true,
      request: new Request('http://localhost:8787/staff/'),
      finish: (answer) => answer,
      failed: (error) => new Response(`failed: ${error}`),
    };
    const calls = {
      site: () => env.KEYEDGE.site(page),
      serve: () => env.KEYEDGE.serve(new Request('http://localhost:8787/userinfo')),
      start: () => env.KEYEDGE.start(),
    };
    for (const [name, call] of Object.entries(calls)) {
      try {
        const answer = await call();
        tried[name] = answer instanceof Response ? { status: answer.status, body: await answer.text() } : { value: String(answer) };
      } catch (e) {
        tried[name] = { threw: String(e.message) };
      }
    }
    // The door it has: keyedge's fetch, which applies the gate.
    const door = await env.KEYEDGE.fetch(new Request('http://localhost:8787/staff/', { redirect: 'manual' }));
    tried.fetch = { status: door.status, location: door.headers.get('location') };
    return Response.json(tried);
  },
};
