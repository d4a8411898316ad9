// Herald's console: plain browser JavaScript over Herald's own GraphQL — graphql-ws for live
// events (the app key), HTTP POST for state and publishing (the secret, kept in memory only).
"use strict";

const $ = (selector) => document.querySelector(selector);
const MAX_ROWS = 200;
const POLL_MS = 1000;

const state = { key: "", secret: "", client: undefined, channel: undefined, unsubscribe: undefined, poll: undefined };

function setStatus(element, text, isError = false) {
  element.textContent = text;
  element.classList.toggle("error", isError);
}

/** A GraphQL request with the app secret; resolves with `data` or throws the first error. */
async function backend(query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${state.secret}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors?.length) throw new Error(body.errors[0].message);
  return body.data;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (className) td.className = className;
  return td;
}

const show = (value) => (value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value));

function row(cells) {
  const tr = document.createElement("tr");
  for (const [text, className] of cells) tr.append(cell(text, className));
  return tr;
}

// Occupied channels, refreshed every second while a secret is given.
async function refreshChannels() {
  try {
    const { channels } = await backend("{ channels(first: 100) { name subscriptionCount userCount } }");
    const body = $("#channels tbody");
    body.replaceChildren(
      ...channels.map((channel) => {
        const tr = row([[channel.name], [String(channel.subscriptionCount)], [show(channel.userCount)]]);
        tr.dataset.channel = channel.name;
        tr.addEventListener("click", () => watch(channel.name, ""));
        return tr;
      }),
    );
    setStatus($("#channels-hint"), channels.length === 0 ? "No channel is occupied." : "");
  } catch (error) {
    setStatus($("#channels-hint"), error.message, true);
  }
}

async function refreshChannelState(name) {
  if (!state.secret) return;
  try {
    const { channel } = await backend(
      "query ($name: String!) { channel(name: $name) { history(limit: 20) { messages { event id offset publishedAt data } } } }",
      { name },
    );
    $("#history tbody").replaceChildren(
      ...channel.history.messages.reverse().map((m) => row([[m.event], [m.id], [show(m.offset)], [m.publishedAt], [show(m.data), "data"]])),
    );
    if (name.startsWith("presence-")) {
      const { presence } = await backend("query ($name: String!) { presence(channel: $name) { members { userId info } } }", { name });
      $("#members").replaceChildren(
        ...presence.members.map((member) => {
          const li = document.createElement("li");
          li.textContent = `${member.userId} ${show(member.info)}`;
          return li;
        }),
      );
    } else {
      $("#members").replaceChildren();
    }
  } catch (error) {
    setStatus($("#publish-status"), error.message, true);
  }
}

function watch(name, token) {
  if (!state.client) return;
  state.unsubscribe?.();
  state.channel = name;
  $("#channel-pane").hidden = false;
  $("#channel-name").textContent = name;
  $("#events tbody").replaceChildren();
  $("#publish").hidden = !state.secret;
  const events = $("#events tbody");
  state.unsubscribe = state.client.subscribe(
    {
      query: "subscription ($name: String!, $token: String) { channel(name: $name, token: $token) { kind event id offset data member { userId } } }",
      variables: { name, token: token || null },
    },
    {
      next: ({ data, errors }) => {
        if (errors?.length) return events.prepend(row([["ERROR"], [errors[0].message, "data"]]));
        const e = data.channel;
        events.prepend(row([[e.kind], [e.event], [e.id], [show(e.offset)], [show(e.member ?? e.data), "data"]]));
        while (events.children.length > MAX_ROWS) events.lastChild.remove();
        if (e.kind !== "SUBSCRIBED") void refreshChannelState(name);
      },
      error: (error) => events.prepend(row([["ERROR"], [error.message ?? `closed ${error.code ?? ""} ${error.reason ?? ""}`, "data"]])),
      complete: () => {},
    },
  );
  void refreshChannelState(name);
}

$("#connect").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  state.key = String(form.get("key")).trim();
  state.secret = String(form.get("secret")).trim();
  state.unsubscribe?.();
  state.client?.dispose();
  clearInterval(state.poll);
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
  setStatus($("#status"), "connecting…");
  state.client = graphqlWs.createClient({
    url,
    connectionParams: { key: state.key },
    lazy: false,
    retryAttempts: 3,
    on: {
      connected: (_socket, payload) => setStatus($("#status"), `connected (socket ${payload?.socketId ?? "?"})`),
      closed: (close) => setStatus($("#status"), `closed ${close.code ?? ""} ${close.reason ?? ""}`, true),
    },
  });
  if (state.secret) {
    void refreshChannels();
    state.poll = setInterval(refreshChannels, POLL_MS);
  } else {
    setStatus($("#channels-hint"), "Give the secret to see them.");
  }
});

$("#open").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  watch(String(form.get("channel")).trim(), String(form.get("token")).trim());
});

$("#publish").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const text = String(form.get("data"));
  let data = text;
  try {
    data = JSON.parse(text);
  } catch {
    // Not JSON: published as the string it is.
  }
  try {
    const { publish } = await backend("mutation ($input: PublishInput!) { publish(input: $input) { id } }", {
      input: { channels: [state.channel], event: String(form.get("event")), data },
    });
    setStatus($("#publish-status"), `published ${publish.id}`);
  } catch (error) {
    setStatus($("#publish-status"), error.message, true);
  }
});
