// Herald's console: plain browser JavaScript over Herald's own GraphQL — graphql-ws for live
// events (the app key), HTTP POST for state and publishing (the secret, kept in memory only).
"use strict";

const $ = (selector) => document.querySelector(selector);
const MAX_ROWS = 200;
const POLL_MS = 1000;
const SLOW_POLL_MS = 5000;

const state = { key: "", secret: "", client: undefined, channel: undefined, unsubscribe: undefined, poll: undefined, slowPoll: undefined, activity: undefined };

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

// The app's queues and watch channels (with their last notification), every few seconds.
async function refreshQueuesAndWatches() {
  try {
    const { queues, watchChannels } = await backend(
      "{ queues { key channel depth dropped createdAt } watchChannels(first: 20) { id channel address expiration deliveries { number state status attempts lastError } } }",
    );
    $("#queues tbody").replaceChildren(...queues.map((q) => row([[q.key], [q.channel], [String(q.depth)], [String(q.dropped)]])));
    $("#watches tbody").replaceChildren(
      ...watchChannels.map((w) => {
        const last = w.deliveries.find((d) => d.state !== "PENDING") ?? w.deliveries[0];
        const pending = w.deliveries.filter((d) => d.state === "PENDING" || d.state === "RETRYING").length;
        const outcome = last ? `#${last.number} ${last.state}${last.status ? ` ${last.status}` : ""}${last.lastError ? ` (${last.lastError})` : ""}` : "";
        return row([[w.id], [w.channel], [w.address], [String(pending)], [outcome]]);
      }),
    );
  } catch (error) {
    setStatus($("#channels-hint"), error.message, true);
  }
}

/**
 * The app's channel activity (occupied, vacated, members, counts) as it happens: GraphQL over
 * SSE with the secret (a POST, which EventSource cannot send, so read from fetch's stream).
 */
async function followActivity() {
  const controller = new AbortController();
  state.activity = controller;
  const list = $("#activity tbody");
  try {
    const response = await fetch("/graphql", {
      method: "POST",
      signal: controller.signal,
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${state.secret}` },
      body: JSON.stringify({ query: "subscription { channelActivity { kind channel userId subscriptionCount at } }" }),
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5))
          .join("\n");
        if (!data) continue;
        const { data: result, errors } = JSON.parse(data);
        if (errors?.length) {
          list.prepend(row([["ERROR"], [errors[0].message]]));
          continue;
        }
        const a = result.channelActivity;
        list.prepend(row([[a.at.slice(11, 23)], [a.kind], [a.channel], [a.userId ?? show(a.subscriptionCount)]]));
        while (list.children.length > MAX_ROWS) list.lastChild.remove();
        void refreshChannels();
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) list.prepend(row([["ERROR"], [error.message]]));
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
  state.activity?.abort();
  clearInterval(state.poll);
  clearInterval(state.slowPoll);
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
    void refreshQueuesAndWatches();
    void followActivity();
    state.poll = setInterval(refreshChannels, POLL_MS);
    state.slowPoll = setInterval(refreshQueuesAndWatches, SLOW_POLL_MS);
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
