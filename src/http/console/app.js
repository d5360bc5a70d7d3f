/**
 * The AI Jobs web console: jobs with filters and live refresh, a job's runs
 * and node executions as a timeline with its Flight Recorder events, the
 * stalled and failed jobs with their operator actions, and events by trace.
 *
 * Plain DOM, no framework. Every value that comes from the API reaches the
 * page as text (`el` appends strings as text nodes); nothing is ever parsed
 * as HTML, so a `<script>` in a stored reason is shown, never run.
 */

/** The API lives one level above the console (`/console/` → `/`), also under a mount prefix. */
const API = new URL("../", document.baseURI)
const TOKEN_KEY = "ai-jobs-token"
const PAGE_SIZE = 50
/** The most rows the API gives in one page. */
const MAX_LIMIT = 1000
const REFRESH_MS = 5000
const HEALTH_MS = 10000

const STATES = ["queued", "running", "stalled", "awaiting_validation", "awaiting_user", "completed", "completed_with_issues", "failed", "cancelled", "poisoned"]
const KINDS = ["doc_edit", "doc_rewrite", "doc_summarize", "sheet_transform", "canvas_cluster", "asr_transcribe", "workflow_run", "spec_router", "debug_bundle_export", "terminal_exec", "doc_ingest", "distillation_eval"]
const EVENT_TYPES = ["system", "workflow_recovery", "capability_action", "llm_inference", "terminal_command", "editor_edit", "diagnostic", "debug_bundle_export", "security_violation"]
/** States an operator may cancel from (the lifecycle table, R6). */
const CANCELLABLE = new Set(["queued", "running", "awaiting_validation", "awaiting_user", "stalled"])
/** States an operator may fail from (the same states: the lifecycle table, R6). */
const FAILABLE = CANCELLABLE

const main = /** @type {HTMLElement} */ (document.getElementById("main"))

// ---------------------------------------------------------------- DOM

/** An element with attributes, listeners (`onclick`) and children; strings become text nodes. */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue
    if (key === "class") node.className = value
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value)
    else node.setAttribute(key, value === true ? "" : String(value))
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue
    node.append(child instanceof Node ? child : String(child))
  }
  return node
}

const pad = (n, width = 2) => String(n).padStart(width, "0")

/** `2026-01-19 23:59:37` in the viewer's time zone; the exact instant is in the title. */
function time(iso) {
  if (!iso) return el("span", { class: "muted" }, "—")
  const d = new Date(iso)
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  return el("time", { datetime: iso, title: iso }, text)
}

function duration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return "—"
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} m ${pad(Math.floor(ms / 1000) % 60)} s`
  return `${Math.floor(ms / 3_600_000)} h ${pad(Math.floor(ms / 60_000) % 60)} m`
}

/** The last 8 hex digits: time-ordered ids made in the same second share their start. */
const short = (id) => (id ? id.slice(-8) : "—")

const badge = (state) => el("span", { class: `badge state-${state}` }, state.replaceAll("_", " "))

const jobLink = (id) => el("a", { href: `#/jobs/${encodeURIComponent(id)}`, class: "mono", title: id }, short(id))

const json = (value) => el("pre", { class: "json" }, JSON.stringify(value, null, 2))

function notice(text, kind = "info") {
  const box = /** @type {HTMLElement} */ (document.getElementById("notice"))
  box.textContent = text
  box.className = `notice ${kind}`
  box.hidden = false
  clearTimeout(notice.timer)
  notice.timer = setTimeout(() => { box.hidden = true }, 6000)
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, body) {
    super(body && typeof body.message === "string" ? body.message : `The server answered ${status}`)
    this.status = status
    this.tag = body && typeof body._tag === "string" ? body._tag : "HttpError"
  }
}

const token = () => sessionStorage.getItem(TOKEN_KEY)

async function api(path, options = {}) {
  const hasBody = options.body !== undefined
  const response = await fetch(new URL(path, API), {
    method: options.method ?? "GET",
    headers: { authorization: `Bearer ${token() ?? ""}`, ...(hasBody ? { "content-type": "application/json" } : {}) },
    body: hasBody ? JSON.stringify(options.body) : undefined,
    cache: "no-store"
  })
  const text = await response.text()
  let data = null
  try { data = text === "" ? null : JSON.parse(text) } catch { data = null }
  if (!response.ok) {
    // A refused token is forgotten; the view that asked shows the sign-in form.
    if (response.status === 401) sessionStorage.removeItem(TOKEN_KEY)
    throw new ApiError(response.status, data)
  }
  return data
}

/** Runs an operator action and reports the job's new state. */
async function act(jobId, action, reason) {
  const job = await api(`jobs/${encodeURIComponent(jobId)}/${action}`, { method: "POST", body: reason ? { reason } : {} })
  notice(`Job ${short(jobId)}: ${action} done, now ${job.state.replaceAll("_", " ")}`, "ok")
  return job
}

// ---------------------------------------------------------------- views

let generation = 0
let refreshTimer = 0

/** Starts a view: stops the previous one's refresh, and returns a check that this view is still current. */
function beginView(name) {
  generation += 1
  const mine = generation
  clearInterval(refreshTimer)
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.getAttribute("data-view") === name)
  return () => mine === generation
}

/**
 * Runs `f` every `ms` as the view's live refresh, except while an action's
 * button is armed for its confirming click: the refresh rebuilt the rows and
 * undid it, so the operator's second click armed it again (found by an
 * outside probe).
 */
function every(ms, f) {
  clearInterval(refreshTimer)
  refreshTimer = setInterval(() => {
    if (main.querySelector("button.armed") === null) f()
  }, ms)
}

function showError(container, error) {
  if (error instanceof ApiError && error.status === 401) return renderLogin("The server refused the token: sign in again.")
  const message = error instanceof ApiError ? `${error.tag}: ${error.message}` : `Cannot reach the server: ${error.message}`
  container.replaceChildren(el("p", { class: "error", role: "alert" }, message))
}

/** A row of checkboxes, one per value, ticked where `selected` says. */
function chips(name, values, selected) {
  return el("fieldset", { class: "chips" }, el("legend", {}, name),
    values.map((value) =>
      el("label", { class: "chip" }, el("input", { type: "checkbox", name, value, checked: selected.includes(value) }), value.replaceAll("_", " "))))
}

function select(name, label, values, selected, any) {
  return el("label", { class: "field" }, label,
    el("select", { name }, el("option", { value: "" }, any), values.map((value) => el("option", { value, selected: value === selected }, value))))
}

function input(name, label, value, attributes = {}) {
  return el("label", { class: "field" }, label, el("input", { name, value: value ?? "", ...attributes }))
}

/** `datetime-local` value to the second (viewer's time zone) ↔ RFC 3339 instant. */
const toLocalInput = (iso) => {
  if (!iso) return ""
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? "" : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}
const fromLocalInput = (value) => (value ? new Date(value).toISOString() : "")

/** A time field's instant from the link, and the field's value when it showed it. */
const linkedTimes = new WeakMap()

/**
 * A time filter, editable to the second. While the field still shows the
 * link's instant, Apply sends that instant as the link said it: read back
 * through the field it lost its seconds and milliseconds, and in a repeated
 * hour (a fall-back DST change) it came back an hour early (found by an
 * outside probe). A time the user enters is read in their zone; in a repeated
 * hour that is the first of the two.
 */
function timeInput(name, label, iso) {
  const shown = toLocalInput(iso)
  const field = input(name, label, shown, { type: "datetime-local", step: 1 })
  const node = field.querySelector("input")
  if (shown !== "") linkedTimes.set(node, { iso, value: node.value })
  return field
}

/** A time filter's value to send: the link's instant while the field shows it, else what the user entered. */
function timeParam(form, key) {
  const node = form.elements.namedItem(key)
  const linked = linkedTimes.get(node)
  return linked !== undefined && node.value === linked.value ? linked.iso : fromLocalInput(node.value)
}

/** Reads a filter form into hash parameters: lists comma-joined, empty values left out. */
function formParams(form, fields) {
  const data = new FormData(form)
  const params = new URLSearchParams()
  for (const [key, kind] of Object.entries(fields)) {
    const value = kind === "list" ? data.getAll(key).join(",") : kind === "time" ? timeParam(form, key) : String(data.get(key) ?? "").trim()
    if (value !== "") params.set(key, value)
  }
  return params
}

/** Live refresh switch and the time of the last refresh. */
function liveToggle(onChange) {
  const stamp = el("span", { class: "muted" })
  const box = el("input", { type: "checkbox", checked: true, onchange: () => onChange(box.checked) })
  return { node: el("div", { class: "toolbar" }, el("label", { class: "chip" }, box, "Live refresh"), stamp), stamp, box }
}

/** Its error while that is why the job is in its state, else why it is (the CLI's jobs table says the same). */
function reasonOrError(job) {
  return ["failed", "poisoned", "stalled"].includes(job.state) ? job.error_message ?? job.status_reason : job.status_reason
}

function jobRows(jobs, { actions = false, onChange } = {}) {
  return jobs.map((job) =>
    el("tr", { "data-job-id": job.job_id },
      el("td", {}, time(job.created_at)),
      el("td", {}, jobLink(job.job_id)),
      el("td", {}, job.job_kind),
      el("td", {}, badge(job.state), job.is_pinned ? el("span", { class: "pin", title: "pinned" }, "📌") : ""),
      el("td", {}, job.capability_profile_id),
      el("td", { class: "reason", title: reasonOrError(job) }, reasonOrError(job)),
      actions ? el("td", { class: "actions" }, rowActions(job, onChange)) : null))
}

/** A button that asks once more before it acts. */
function confirmButton(label, run) {
  const button = el("button", { type: "button", class: "action" }, label)
  let armed = false
  let timer = 0
  const disarm = () => { armed = false; button.textContent = label; button.classList.remove("armed") }
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true
      button.textContent = `Confirm ${label.toLowerCase()}`
      button.classList.add("armed")
      timer = setTimeout(disarm, 4000)
      return
    }
    clearTimeout(timer)
    button.disabled = true
    try { await run() } catch (error) { notice(`${label} failed: ${error.message}`, "error") } finally { button.disabled = false; disarm() }
  })
  return button
}

function rowActions(job, onChange) {
  const run = (action) => async () => { await act(job.job_id, action); await onChange() }
  return [
    job.state === "stalled" ? confirmButton("Resume", run("resume")) : null,
    job.state === "failed" ? confirmButton("Retry", run("retry")) : null,
    // A worker pool claims only queued jobs: a stalled job it should run again is failed, then retried.
    job.state === "stalled" ? confirmButton("Fail", run("fail")) : null,
    CANCELLABLE.has(job.state) ? confirmButton("Cancel", run("cancel")) : null
  ]
}

/**
 * The "Load more" button of a paged table: `loadPage` appends the page after
 * the table's cursor. The button is disabled from the click until that page
 * arrives or fails, and a click meanwhile is ignored: two requests with the
 * same cursor appended the same page twice (found by an outside tester).
 */
function loadMoreButton(loadPage) {
  const more = el("button", { type: "button", class: "more", hidden: true }, "Load more")
  more.addEventListener("click", async () => {
    if (more.disabled) return
    more.disabled = true
    try { await loadPage() } finally { more.disabled = false }
  })
  return more
}

const jobsHead = (actions) =>
  el("thead", {}, el("tr", {}, ["Created", "Job", "Kind", "State", "Profile", "Reason"].map((h) => el("th", {}, h)), actions ? el("th", {}, "Actions") : null))

/**
 * A paged, live-refreshed job table for `query` (the API's own parameters).
 *
 * A refresh reloads as many rows as are shown, in pages of the API's largest
 * (1000): it asked for 1000 at most and replaced the table, so rows loaded
 * past 1000 with "Load more" vanished at the next refresh (found by an
 * outside probe). Loads run one at a time, so a refresh never replaces the
 * table with fewer rows than a page that arrived meanwhile.
 */
function jobTable(current, query, { actions = false, empty }) {
  const body = el("tbody")
  const table = el("table", { class: "jobs" }, jobsHead(actions), body)
  const status = el("div", { class: "table-status" })
  const more = loadMoreButton(() => load(false))
  const live = liveToggle((on) => (on ? every(REFRESH_MS, () => load(true)) : clearInterval(refreshTimer)))
  let cursor = null
  let queue = Promise.resolve()
  let pending = 0
  let refreshWaiting = false

  /** A refresh (`reset`: one waiting is enough) or the page after the cursor: at once when no load is under way, else after it. */
  function load(reset) {
    if (reset && refreshWaiting) return queue
    if (reset) refreshWaiting = true
    const run = () => {
      if (!reset) return nextPage()
      refreshWaiting = false
      return refresh()
    }
    const started = pending === 0 ? run() : queue.then(run)
    pending += 1
    queue = started.finally(() => { pending -= 1 })
    return queue
  }

  const fetchPage = (limit, after) => {
    const params = new URLSearchParams(query)
    params.set("order", "desc")
    params.set("limit", String(limit))
    if (after) params.set("cursor", after)
    return api(`jobs?${params}`)
  }

  const rows = (items) => jobRows(items, { actions, onChange: () => load(true) })

  function settle(next) {
    cursor = next
    more.hidden = cursor === null
    status.replaceChildren(body.children.length === 0 ? el("p", { class: "muted" }, empty) : "")
    live.stamp.textContent = `Updated ${new Date().toLocaleTimeString()}`
  }

  async function refresh() {
    const wanted = Math.max(PAGE_SIZE, body.children.length)
    const items = []
    let next = null
    try {
      do {
        const page = await fetchPage(Math.min(MAX_LIMIT, wanted - items.length), next)
        if (!current()) return
        items.push(...page.items)
        next = page.items.length === 0 ? null : page.next_cursor
      } while (next !== null && items.length < wanted)
    } catch (error) {
      if (current()) showError(status, error)
      return
    }
    body.replaceChildren(...rows(items))
    settle(next)
  }

  async function nextPage() {
    try {
      const page = await fetchPage(PAGE_SIZE, cursor)
      if (!current()) return
      body.append(...rows(page.items))
      settle(page.next_cursor)
    } catch (error) {
      if (current()) showError(status, error)
    }
  }

  every(REFRESH_MS, () => load(true))
  return { node: el("div", {}, live.node, el("div", { class: "scroll" }, table), status, more), load }
}

async function renderJobs(params) {
  const current = beginView("jobs")
  const selectedStates = (params.get("state") ?? "").split(",").filter(Boolean)
  const form = el("form", { class: "filters" },
    chips("state", STATES, selectedStates),
    el("div", { class: "row" },
      select("job_kind", "Kind", KINDS, params.get("job_kind") ?? "", "any kind"),
      timeInput("created_after", "Created after", params.get("created_after")),
      timeInput("created_before", "Created before", params.get("created_before")),
      input("trace_id", "Trace id", params.get("trace_id"), { placeholder: "uuid", size: 38, class: "mono" }),
      el("button", { type: "submit" }, "Apply"),
      el("a", { href: "#/jobs", class: "link" }, "Clear")))
  form.addEventListener("submit", (event) => {
    event.preventDefault()
    const next = formParams(form, { state: "list", job_kind: "text", created_after: "time", created_before: "time", trace_id: "text" })
    location.hash = `#/jobs${next.size > 0 ? `?${next}` : ""}`
  })
  const query = new URLSearchParams()
  for (const key of ["state", "job_kind", "created_after", "created_before", "trace_id"]) if (params.get(key)) query.set(key, params.get(key))
  const table = jobTable(current, query, { empty: "No job matches these filters." })
  main.replaceChildren(el("section", {}, el("h1", {}, "Jobs"), el("p", { class: "muted" }, "Newest first."), form, table.node))
  await table.load(true)
}

async function renderAttention() {
  const current = beginView("attention")
  const table = jobTable(current, new URLSearchParams({ state: "stalled,failed" }), {
    actions: true,
    empty: "Nothing is stalled or failed."
  })
  main.replaceChildren(el("section", {},
    el("h1", {}, "Stalled & failed"),
    el("p", { class: "muted" }, "Stalled jobs lost their worker (startup recovery found them); resume runs one again under a new workflow run, taken by a worker pool of its kind. Failed jobs can be retried. Each action asks for a second click and is recorded as a human event."),
    table.node))
  await table.load(true)
}

/** Every other field of an event, as `key=value`: what a summary falls back to. */
function fields(event) {
  const envelope = new Set(["event_id", "timestamp", "actor", "type", "trace_id", "job_id", "workflow_run_id"])
  return Object.entries(event).filter(([key]) => !envelope.has(key)).map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`).join(" ")
}

function summary(event) {
  switch (event.type) {
    case "system":
      // A lifecycle change; other system events (a Janitor pass, say) fall back to their fields.
      if (event.to_state === undefined) return fields(event)
      return `${event.from_state ?? "new"} → ${event.to_state}${event.reason ? ` — ${event.reason}` : ""}`
    case "workflow_recovery":
      return `${event.from_state ?? "running"} → ${event.to_state ?? "stalled"} — ${event.reason ?? ""} (last heartbeat ${event.last_heartbeat_ts}, threshold ${event.threshold_secs} s)`
    case "capability_action":
      return `${event.capability_id}: ${event.decision_outcome}${event.profile_id ? ` (profile ${event.profile_id})` : ""}`
    case "llm_inference": {
      const usage = event.token_usage ?? {}
      return `${event.model_id}: ${usage.total_tokens ?? usage.total ?? "?"} tokens`
    }
    case "terminal_command":
      return `${event.command}${event.exit_code === undefined ? "" : ` → exit ${event.exit_code}`}`
    case "editor_edit": {
      const edits = Array.isArray(event.ops) ? event.ops.length : 0
      return `${event.editor_surface} ${event.path ?? event.document_uri ?? "document"}: ${edits} ${edits === 1 ? "edit" : "edits"}`
    }
    case "diagnostic":
      return `${event.severity} ${event.code}: ${event.message}`
    case "debug_bundle_export":
      return `bundle ${event.bundle_id}`
    case "security_violation":
      return `${event.violation}${event.detail ? `: ${event.detail}` : ""}`
    default:
      return fields(event)
  }
}

function eventRows(events, { withJob = false } = {}) {
  return events.map((event) =>
    el("tr", { "data-event-type": event.type },
      el("td", {}, time(event.timestamp)),
      el("td", {}, el("span", { class: `type type-${event.type}` }, event.type)),
      el("td", {}, event.actor),
      withJob ? el("td", {}, event.job_id ? jobLink(event.job_id) : "—") : null,
      el("td", { class: "summary" }, summary(event)),
      el("td", {}, el("details", { "data-key": `event-${event.event_id}` }, el("summary", {}, "JSON"), json(event)))))
}

const eventsHead = (withJob) =>
  el("thead", {}, el("tr", {}, el("th", {}, "Time"), el("th", {}, "Type"), el("th", {}, "Actor"), withJob ? el("th", {}, "Job") : null, el("th", {}, "What"), el("th", {}, "")))

/** Runs and their node executions on one time axis: each bar starts and lasts in proportion. */
function timeline(runs) {
  if (runs.length === 0) return el("p", { class: "muted" }, "No workflow run yet: the job has not been started.")
  const now = Date.now()
  return runs.map((run, index) => {
    const start = Date.parse(run.created_at)
    const ends = [Date.parse(run.updated_at), ...run.nodes.map((node) => Date.parse(node.finished_at ?? node.started_at))]
    if (run.status === "running") ends.push(now)
    const end = Math.max(start + 1, ...ends)
    const span = end - start
    const bar = (from, to, status) => {
      const track = el("div", { class: "track" })
      const fill = el("div", { class: `bar state-${status}` })
      fill.style.left = `${((from - start) / span) * 100}%`
      fill.style.width = `${Math.max(0.8, ((to - from) / span) * 100)}%`
      track.append(fill)
      return track
    }
    return el("article", { class: "run", "data-run-id": run.id },
      el("header", {},
        el("strong", {}, `Run ${index + 1}`), " ", el("span", { class: "mono", title: run.id }, short(run.id)), " ", badge(run.status),
        el("span", { class: "muted" }, " started ", time(run.created_at), ` · ${duration(Math.max(...ends) - start)} · last heartbeat `, time(run.last_heartbeat))),
      run.error_message ? el("p", { class: "error" }, run.error_message) : null,
      el("div", { class: "nodes" },
        el("div", { class: "node run-row" }, el("span", { class: "label" }, "whole run"), bar(start, Math.max(...ends), run.status), el("span", { class: "muted" }, duration(Math.max(...ends) - start))),
        run.nodes.map((node) => {
          const from = Date.parse(node.started_at)
          const to = node.finished_at ? Date.parse(node.finished_at) : run.status === "running" ? now : from
          return el("div", { class: "node", "data-node-id": node.node_id },
            el("span", { class: "label" }, `${node.sequence}. ${node.node_id}`, el("span", { class: "muted" }, ` ${node.node_type}`)),
            bar(from, to, node.status),
            el("span", {}, badge(node.status), " ", duration(to - from)),
            el("details", { class: "payloads", "data-key": `node-${node.id}` }, el("summary", {}, "payloads"),
              el("div", { class: "cols" },
                el("div", {}, el("h4", {}, "input"), payload(node, "input")),
                el("div", {}, el("h4", {}, "output"), payload(node, "output"))),
              node.error_message ? el("p", { class: "error" }, node.error_message) : null))
        })),
      // The detail carries a run's first nodes only (R14): say so, and where the rest are.
      run.nodes_next_cursor
        ? el("p", { class: "muted nodes-cut" }, `Showing the first ${run.nodes.length} node executions of this run; more follow (GET /runs/${run.id}/nodes).`)
        : null)
  })
}

/**
 * A node's payload in the job's detail: inline, or — one the server left out
 * for its size (R14: `input_payload_ref` / `output_payload_ref`) — its size
 * and a button that fetches the node in full (its `href`) when asked.
 */
function payload(node, which) {
  const ref = node[`${which}_payload_ref`]
  if (!ref) return json(node[`${which}_payload`])
  const box = el("div", { class: "payload-ref" })
  const load = async () => {
    try {
      const full = await api(ref.href.replace(/^\//, ""))
      box.replaceChildren(json(full[`${which}_payload`]))
    } catch (error) {
      showError(box, error)
    }
  }
  box.append(el("button", { type: "button", class: "load-payload", onclick: load }, `load ${which} (${ref.bytes} bytes)`))
  return box
}

function field(label, ...value) {
  return [el("dt", {}, label), el("dd", {}, ...value)]
}

function jobActions(job, reload) {
  const reason = el("input", { name: "reason", placeholder: "Reason (recorded with the action)", size: 40, maxlength: 2000 })
  const button = (label, action, enabled) =>
    enabled
      ? el("button", {
        type: "button",
        class: "action",
        "data-action": action,
        onclick: async (event) => {
          // Kept before the await: `currentTarget` is null once the handler has returned to the
          // event loop, so a refused action threw here and left its button disabled.
          const pressed = event.currentTarget
          pressed.disabled = true
          try {
            await act(job.job_id, action, reason.value.trim())
            reason.value = ""
            await reload()
          } catch (error) {
            notice(`${label} failed: ${error.message}`, "error")
            pressed.disabled = false
          }
        }
      }, label)
      : null
  const buttons = [
    button("Resume", "resume", job.state === "stalled"),
    // Rework: the user has answered, and the job runs again under a new run (R6: awaiting_user → running).
    button("Rework", "rework", job.state === "awaiting_user"),
    button("Retry", "retry", job.state === "failed"),
    button("Fail", "fail", FAILABLE.has(job.state)),
    button("Cancel", "cancel", CANCELLABLE.has(job.state)),
    job.is_pinned ? button("Unpin", "unpin", true) : button("Pin", "pin", true)
  ]
  return el("div", { class: "card actions-card" }, el("h2", {}, "Operator actions"), el("div", { class: "row" }, reason, buttons))
}

/** What a refresh must not lose: open details, and the reason being typed. */
function keepState(render) {
  const open = new Set([...main.querySelectorAll("details[open][data-key]")].map((node) => node.getAttribute("data-key")))
  const reason = main.querySelector("input[name=reason]")
  const typed = reason ? reason.value : ""
  const focused = reason !== null && document.activeElement === reason
  render()
  for (const node of main.querySelectorAll("details[data-key]")) if (open.has(node.getAttribute("data-key"))) node.open = true
  const again = main.querySelector("input[name=reason]")
  if (again) {
    again.value = typed
    if (focused) again.focus()
  }
}

/**
 * A job's page, reloaded by the live refresh and after each action. An answer
 * older than one already drawn is dropped: a refresh sent before an action
 * and answered after the action's reload drew the job as it was before the
 * action, until the next refresh.
 */
async function renderJob(jobId) {
  const current = beginView("jobs")
  main.replaceChildren(el("p", { class: "muted" }, "Loading…"))
  const live = liveToggle((on) => (on ? every(REFRESH_MS, load) : clearInterval(refreshTimer)))
  let sent = 0
  let drawn = 0
  const load = async () => {
    const mine = ++sent
    const newest = () => current() && mine > drawn
    let detail
    try {
      detail = await api(`jobs/${encodeURIComponent(jobId)}`)
    } catch (error) {
      if (newest()) {
        drawn = mine
        showError(main, error)
      }
      return
    }
    if (!newest()) return
    drawn = mine
    const { job, runs, events } = detail
    const metrics = job.metrics
    live.stamp.textContent = `Updated ${new Date().toLocaleTimeString()}`
    keepState(() => main.replaceChildren(el("section", { class: "job", "data-job-id": job.job_id },
      el("div", { class: "job-top" }, el("a", { href: "#/jobs", class: "back" }, "← Jobs"), live.node),
      el("h1", {}, job.job_kind, " ", badge(job.state), job.is_pinned ? el("span", { class: "pin", title: "pinned: pruning keeps it" }, " 📌 pinned") : ""),
      el("p", { class: "mono muted" }, job.job_id),
      jobActions(job, load),
      el("div", { class: "card" },
        el("dl", { class: "fields" },
          field("Status reason", el("span", { class: "reason-text" }, job.status_reason || "—")),
          job.error_message ? field("Error", el("span", { class: "error" }, job.error_message)) : null,
          field("Trace", el("a", { href: `#/events?trace_id=${encodeURIComponent(job.trace_id)}`, class: "mono" }, job.trace_id)),
          field("Workflow run", el("span", { class: "mono" }, job.workflow_run_id ?? "—")),
          field("Protocol", job.protocol_id),
          field("Profile", job.profile_id, el("span", { class: "muted" }, ` under ${job.capability_profile_id}`)),
          field("Modes", `${job.access_mode} · ${job.safety_mode}`),
          field("Created", time(job.created_at)),
          field("Updated", time(job.updated_at)),
          field("Metrics", `${duration(metrics.duration_ms)} · ${metrics.total_tokens} tokens · ${metrics.entities_read} read · ${metrics.entities_written} written`),
          field("Entities", job.entity_refs.length === 0 ? "—" : job.entity_refs.map((ref) => `${ref.entity_kind}:${ref.entity_id}`).join(", "))),
        el("details", { "data-key": "io" }, el("summary", {}, "Inputs and outputs"),
          el("div", { class: "cols" }, el("div", {}, el("h4", {}, "inputs"), json(job.job_inputs)), el("div", {}, el("h4", {}, "outputs"), json(job.job_outputs))))),
      el("h2", {}, "Runs and node executions"),
      el("div", { class: "timeline" }, timeline(runs)),
      detail.runs_next_cursor
        ? el("p", { class: "muted runs-cut" }, `Showing the first ${runs.length} runs of this job; more follow (GET /jobs/${job.job_id}/runs).`)
        : null,
      el("h2", {}, "Flight Recorder"),
      // Before the list, so an empty one never reads as "nothing happened" (FR-EVT-004).
      detail.evidence_missing
        ? el("p", { class: "evidence-missing", role: "note" }, `Evidence may be missing: ${detail.evidence_missing.message}.`)
        : null,
      el("div", { class: "scroll" }, el("table", { class: "events" }, eventsHead(false), el("tbody", {}, eventRows(events)))),
      detail.events_next_cursor ? el("a", { href: `#/events?job_id=${encodeURIComponent(job.job_id)}` }, "All events of this job →") : null)))
  }
  every(REFRESH_MS, load)
  await load()
}

async function renderEvents(params) {
  const current = beginView("events")
  const form = el("form", { class: "filters" },
    chips("type", EVENT_TYPES, (params.get("type") ?? "").split(",").filter(Boolean)),
    el("div", { class: "row" },
      input("trace_id", "Trace id", params.get("trace_id"), { placeholder: "uuid", size: 38, class: "mono" }),
      input("job_id", "Job id", params.get("job_id"), { placeholder: "uuid", size: 38, class: "mono" }),
      timeInput("since", "Since", params.get("since")),
      el("button", { type: "submit" }, "Apply"),
      el("a", { href: "#/events", class: "link" }, "Clear")))
  form.addEventListener("submit", (event) => {
    event.preventDefault()
    const next = formParams(form, { type: "list", trace_id: "text", job_id: "text", since: "time" })
    location.hash = `#/events${next.size > 0 ? `?${next}` : ""}`
  })
  const body = el("tbody")
  const status = el("div", { class: "table-status" })
  const more = loadMoreButton(() => load())
  main.replaceChildren(el("section", {},
    el("h1", {}, "Flight Recorder"),
    el("p", { class: "muted" }, "Oldest first: a trace reads as a timeline."),
    form,
    el("div", { class: "scroll" }, el("table", { class: "events" }, eventsHead(true), body)),
    status,
    more))
  let cursor = null
  const load = async () => {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) })
    for (const key of ["type", "trace_id", "job_id", "since"]) if (params.get(key)) query.set(key, params.get(key))
    if (cursor) query.set("cursor", cursor)
    try {
      const page = await api(`events?${query}`)
      if (!current()) return
      body.append(...eventRows(page.items, { withJob: true }))
      cursor = page.next_cursor
      more.hidden = cursor === null
      status.replaceChildren(body.children.length === 0 ? el("p", { class: "muted" }, "No event matches these filters.") : "")
    } catch (error) {
      if (current()) showError(status, error)
    }
  }
  await load()
}

function renderLogin(message) {
  beginView("")
  const secret = el("input", { type: "password", name: "token", autocomplete: "off", size: 48, required: true, "aria-label": "API token" })
  const form = el("form", { class: "card login" },
    el("h1", {}, "Sign in"),
    el("p", {}, "The console calls the API with its bearer token. ", el("code", {}, "ai-jobs serve"), " prints a console link that carries it; or paste the token here (kept for this tab only)."),
    message ? el("p", { class: "error", role: "alert" }, message) : null,
    el("div", { class: "row" }, secret, el("button", { type: "submit" }, "Use token")))
  form.addEventListener("submit", async (event) => {
    event.preventDefault()
    sessionStorage.setItem(TOKEN_KEY, secret.value.trim())
    try {
      await api("jobs?limit=1")
      route()
    } catch (error) {
      renderLogin(error instanceof ApiError && error.status === 401 ? "That token was refused." : error.message)
    }
  })
  main.replaceChildren(form)
  secret.focus()
}

// ---------------------------------------------------------------- shell

async function checkHealth() {
  const box = /** @type {HTMLElement} */ (document.getElementById("health"))
  try {
    const response = await fetch(new URL("health", API), { cache: "no-store" })
    const report = await response.json()
    box.className = `health ${report.status === "ok" ? "ok" : "bad"}`
    box.textContent = report.status === "ok"
      ? `healthy · schema ${report.schema_version} · v${report.version}`
      : `${report.message ?? "unavailable"} (database ${report.database}, recovery ${report.recovery})`
  } catch {
    box.className = "health bad"
    box.textContent = "server unreachable"
  }
}

function route() {
  adoptTokenFromLink()
  const signout = /** @type {HTMLElement} */ (document.getElementById("signout"))
  signout.hidden = token() === null
  if (token() === null) return renderLogin()
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?")
  const params = new URLSearchParams(query)
  const job = /^\/jobs\/([0-9a-fA-F-]{36})$/.exec(path)
  if (job) return renderJob(job[1])
  if (path === "/attention") return renderAttention()
  if (path === "/events") return renderEvents(params)
  return renderJobs(params)
}

/** A link printed by `ai-jobs serve` carries the token in the fragment, which never reaches a server or a log. */
function adoptTokenFromLink() {
  const match = /^#token=([^&]+)/.exec(location.hash)
  if (match === null) return
  // A link mangled in transit (`%E0%A4%A`) is no token: drop it and ask, rather than stop the page.
  let presented = null
  try { presented = decodeURIComponent(match[1]) } catch { presented = null }
  if (presented !== null) sessionStorage.setItem(TOKEN_KEY, presented)
  history.replaceState(null, "", `${location.pathname}${location.search}#/jobs`)
}

document.getElementById("signout")?.addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY)
  route()
})
window.addEventListener("hashchange", route)
route()
checkHealth()
setInterval(checkHealth, HEALTH_MS)
