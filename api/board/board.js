// The live board: a gRPC-Web client for the few Booking messages it needs,
// encoded and decoded by hand (protobuf wire format), and the page around it.
// Served by seatd itself, so every call is same-origin; nothing is fetched
// from anywhere else.
"use strict";

// ---- protobuf wire format ----------------------------------------------

const WIRE_VARINT = 0;
const WIRE_LENGTH = 2;

function varint(value) {
  const bytes = [];
  // Numbers up to 2^53 are exact; every field we send is far below that.
  while (value >= 0x80) {
    bytes.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  bytes.push(value);
  return bytes;
}

function tag(field, wire) {
  return varint(field * 8 + wire);
}

function lengthField(field, bytes) {
  return [...tag(field, WIRE_LENGTH), ...varint(bytes.length), ...bytes];
}

function stringField(field, text) {
  return text ? lengthField(field, Array.from(new TextEncoder().encode(text))) : [];
}

function varintField(field, value) {
  return value ? [...tag(field, WIRE_VARINT), ...varint(value)] : [];
}

// Reads one message into { field number: [values] }: varints as Numbers,
// length-delimited fields as Uint8Arrays.
function readFields(bytes) {
  const fields = {};
  let at = 0;
  const readVarint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (at >= bytes.length) throw new Error("truncated varint");
      const byte = bytes[at++];
      value += (byte & 0x7f) * scale;
      scale *= 0x80;
      if (byte < 0x80) return value;
    }
  };
  while (at < bytes.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    let value;
    if (wire === WIRE_VARINT) {
      value = readVarint();
    } else if (wire === WIRE_LENGTH) {
      const length = readVarint();
      value = bytes.subarray(at, at + length);
      at += length;
    } else if (wire === 1) {
      at += 8;
      continue;
    } else if (wire === 5) {
      at += 4;
      continue;
    } else {
      throw new Error("unsupported wire type " + wire);
    }
    (fields[field] = fields[field] || []).push(value);
  }
  return fields;
}

const text = (fields, field) => (fields[field] ? new TextDecoder().decode(fields[field][0]) : "");
const number = (fields, field) => (fields[field] ? fields[field][0] : 0);
const messages = (fields, field) => (fields[field] || []).map(readFields);

// Repeated bools arrive packed (proto3's default) or one by one.
function bools(fields, field) {
  const out = [];
  for (const value of fields[field] || []) {
    if (typeof value === "number") out.push(value !== 0);
    else for (const byte of value) out.push(byte !== 0);
  }
  return out;
}

const SEAT_CLASSES = ["unspecified", "business", "first", "second", "soft-sleeper", "hard-sleeper"];

// ---- the messages the board uses -----------------------------------------

function trainDate(train, date) {
  return [...stringField(1, train), ...stringField(2, date)];
}

const encode = {
  // WatchAvailabilityRequest { search: SearchTrainsRequest { date, from, to }, coarse }
  watchSearch({ date, from, to, coarse }) {
    const search = [...stringField(1, date), ...stringField(2, from), ...stringField(3, to)];
    return Uint8Array.from([...lengthField(1, search), ...varintField(3, coarse ? 1 : 0)]);
  },
  // GetSeatMapRequest { train_date, carriage, from_station, to_station }
  seatMap({ train, date, carriage, from, to }) {
    return Uint8Array.from([
      ...lengthField(1, trainDate(train, date)),
      ...varintField(2, carriage),
      ...stringField(3, from),
      ...stringField(4, to),
    ]);
  },
  // GetTrainRequest { train_date }
  train({ train, date }) {
    return Uint8Array.from(lengthField(1, trainDate(train, date)));
  },
};

function decodeTrainDate(fields) {
  return { train: text(fields, 1), date: text(fields, 2) };
}

function decodeOffer(fields) {
  return {
    trainDate: decodeTrainDate(messages(fields, 1)[0] || {}),
    fromStation: text(fields, 2),
    fromStationName: text(fields, 3),
    toStation: text(fields, 4),
    toStationName: text(fields, 5),
    departTime: text(fields, 10),
    arriveTime: text(fields, 11),
    onSale: number(fields, 14) !== 0,
    classes: messages(fields, 15).map((offer) => ({
      seatClass: SEAT_CLASSES[number(offer, 1)] || "unknown",
      remaining: number(offer, 2),
      fareFen: number(offer, 3),
      plenty: number(offer, 4) !== 0,
    })),
  };
}

const decode = {
  availabilityUpdate(bytes) {
    const fields = readFields(bytes);
    return { trains: messages(fields, 1).map(decodeOffer), initial: number(fields, 2) !== 0 };
  },
  seatMap(bytes) {
    const fields = readFields(bytes);
    return {
      carriage: number(fields, 2),
      seatClass: SEAT_CLASSES[number(fields, 3)] || "unknown",
      letters: text(fields, 4),
      rows: messages(fields, 5).map((row) => ({ row: number(row, 1), free: bools(row, 2) })),
    };
  },
  train(bytes) {
    const fields = readFields(bytes);
    return {
      carriages: messages(fields, 4).map((carriage) => ({
        number: number(carriage, 1),
        seatClass: SEAT_CLASSES[number(carriage, 2)] || "unknown",
      })),
    };
  },
};

// ---- gRPC-Web -------------------------------------------------------------

const FRAME_TRAILERS = 0x80;

function frame(message) {
  const framed = new Uint8Array(5 + message.length);
  new DataView(framed.buffer).setUint32(1, message.length);
  framed.set(message, 5);
  return framed;
}

class GrpcError extends Error {
  constructor(code, message) {
    super(`gRPC status ${code}: ${message}`);
    this.code = code;
  }
}

function statusOf(trailers) {
  const code = Number(trailers["grpc-status"] || "2");
  const message = decodeURIComponent(trailers["grpc-message"] || "");
  return code === 0 ? null : new GrpcError(code, message);
}

function parseTrailers(bytes) {
  const trailers = {};
  for (const line of new TextDecoder().decode(bytes).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return trailers;
}

// Calls `method` of seat.v1.Booking; onMessage gets each response message's
// bytes. Resolves when the call ends OK, rejects with its status otherwise.
async function call(method, request, token, onMessage, signal) {
  const response = await fetch(`/seat.v1.Booking/${method}`, {
    method: "POST",
    headers: {
      "content-type": "application/grpc-web+proto",
      "x-grpc-web": "1",
      authorization: `Bearer ${token}`,
    },
    body: frame(request),
    signal,
  });
  // A call refused before any message answers with its status in the headers.
  if (response.headers.get("grpc-status") !== null) {
    const error = statusOf(Object.fromEntries(response.headers.entries()));
    if (error) throw error;
  }
  if (!response.ok) throw new GrpcError(14, `HTTP ${response.status}`);
  const reader = response.body.getReader();
  let buffer = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const joined = new Uint8Array(buffer.length + value.length);
    joined.set(buffer);
    joined.set(value, buffer.length);
    buffer = joined;
    while (buffer.length >= 5) {
      const length = new DataView(buffer.buffer, buffer.byteOffset).getUint32(1);
      if (buffer.length < 5 + length) break;
      const flags = buffer[0];
      const payload = buffer.slice(5, 5 + length);
      buffer = buffer.slice(5 + length);
      if (flags & FRAME_TRAILERS) {
        const error = statusOf(parseTrailers(payload));
        if (error) throw error;
        return;
      }
      onMessage(payload);
    }
  }
}

async function unary(method, request, token) {
  let reply = null;
  await call(method, request, token, (bytes) => (reply = bytes));
  if (reply === null) throw new GrpcError(13, "no reply message");
  return reply;
}

// Exposed for the browser test, which checks the codec against prost.
window.seatBoard = { encode, decode, readFields, frame };

// ---- the page ---------------------------------------------------------------

const $ = (selector) => document.querySelector(selector);

// Names come from the timetable; never let them be markup.
const escape = (value) =>
  String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function tomorrowInChina() {
  // Dates are UTC+8 service dates.
  const shifted = new Date(Date.now() + 8 * 3600 * 1000 + 24 * 3600 * 1000);
  return shifted.toISOString().slice(0, 10);
}

function token() {
  return $("#token").value.trim();
}

function countText(offer) {
  if (offer.plenty) return "有";
  return offer.remaining === 0 ? "无" : String(offer.remaining);
}

function renderOffer(offer, initial) {
  const id = `${offer.trainDate.train}/${offer.trainDate.date}`;
  let row = [...document.querySelectorAll("#trains tbody tr")].find((tr) => tr.dataset.trainDate === id);
  if (!row) {
    row = document.createElement("tr");
    row.dataset.trainDate = id;
    row.addEventListener("click", () => showSeatMaps(offer));
    $("#trains tbody").appendChild(row);
  }
  row.classList.toggle("off-sale", !offer.onSale);
  // One column per class, so counts line up across trains.
  const cells = SEAT_CLASSES.slice(1)
    .map((seatClass) => {
      const cls = offer.classes.find((entry) => entry.seatClass === seatClass);
      if (!cls) return `<td class="none">—</td>`;
      return (
        `<td class="count" data-train="${escape(offer.trainDate.train)}" data-class="${seatClass}"` +
        ` data-remaining="${cls.remaining}"><b>${countText(cls)}</b> <small>¥${(cls.fareFen / 100).toFixed(2)}</small></td>`
      );
    })
    .join("");
  row.innerHTML =
    `<td>${escape(offer.trainDate.train)}</td><td>${escape(offer.fromStationName)} ${offer.departTime}</td>` +
    `<td>${escape(offer.toStationName)} ${offer.arriveTime}</td>${cells}`;
  if (!initial) {
    // Restarts the highlight on the row that just changed.
    row.classList.remove("flash");
    void row.offsetWidth;
    row.classList.add("flash");
  }
}

let watching = null;

async function watch() {
  if (watching) watching.abort();
  watching = new AbortController();
  const signal = watching.signal;
  $("#trains tbody").innerHTML = "";
  $("#trains thead").innerHTML =
    "<tr><th>train</th><th>from</th><th>to</th>" + SEAT_CLASSES.slice(1).map((c) => `<th>${c}</th>`).join("") + "</tr>";
  const request = encode.watchSearch({
    date: $("#date").value,
    from: $("#from").value,
    to: $("#to").value,
    coarse: $("#coarse").checked,
  });
  setStatus("watching…");
  try {
    await call(
      "WatchAvailability",
      request,
      token(),
      (bytes) => {
        const update = decode.availabilityUpdate(bytes);
        update.trains.forEach((offer) => renderOffer(offer, update.initial));
        const time = new Date().toLocaleTimeString();
        setStatus(update.initial ? `${update.trains.length} trains, live` : `updated ${time}`);
        document.body.dataset.updates = String(Number(document.body.dataset.updates || "0") + 1);
      },
      signal
    );
    setStatus("the server ended the watch");
  } catch (error) {
    if (!signal.aborted) setStatus(error.message, true);
  }
}

async function showSeatMaps(offer) {
  const { train, date } = offer.trainDate;
  const panel = $("#seatmap");
  panel.innerHTML = `<h2>${escape(train)} ${escape(date)} ${escape(offer.fromStationName)} → ${escape(offer.toStationName)}</h2>`;
  try {
    const detail = decode.train(await unary("GetTrain", encode.train({ train, date }), token()));
    const buttons = document.createElement("div");
    for (const carriage of detail.carriages) {
      const button = document.createElement("button");
      button.textContent = `${String(carriage.number).padStart(2, "0")} ${carriage.seatClass}`;
      button.addEventListener("click", () => showSeatMap(offer, carriage.number));
      buttons.appendChild(button);
    }
    panel.appendChild(buttons);
    panel.appendChild(Object.assign(document.createElement("div"), { id: "carriage" }));
    if (detail.carriages.length) await showSeatMap(offer, detail.carriages[0].number);
  } catch (error) {
    setStatus(error.message, true);
  }
}

async function showSeatMap(offer, carriage) {
  const { train, date } = offer.trainDate;
  const request = encode.seatMap({ train, date, carriage, from: offer.fromStation, to: offer.toStation });
  const map = decode.seatMap(await unary("GetSeatMap", request, token()));
  const free = map.rows.reduce((sum, row) => sum + row.free.filter(Boolean).length, 0);
  let html = `<p>carriage ${map.carriage} (${map.seatClass}): ${free} free</p><table class="seats"><tr><th></th>`;
  html += [...map.letters].map((letter) => `<th>${letter}</th>`).join("") + "</tr>";
  for (const row of map.rows) {
    html += `<tr><th>${String(row.row).padStart(2, "0")}</th>`;
    html += row.free.map((isFree) => `<td class="${isFree ? "free" : "taken"}">${isFree ? "□" : "■"}</td>`).join("");
    html += "</tr>";
  }
  $("#carriage").innerHTML = html + "</table>";
  $("#carriage").dataset.free = String(free);
}

function setStatus(message, isError = false) {
  $("#status").textContent = message;
  $("#status").classList.toggle("error", isError);
}

function start() {
  const params = new URLSearchParams(location.search);
  const injected = document.querySelector('meta[name="seat-demo-token"]').content;
  $("#token").value = params.get("token") || injected;
  $("#from").value = params.get("from") || "北京南";
  $("#to").value = params.get("to") || "上海虹桥";
  $("#date").value = params.get("date") || tomorrowInChina();
  $("#coarse").checked = params.get("coarse") === "1";
  $("#form").addEventListener("submit", (event) => {
    event.preventDefault();
    watch();
  });
  if (token()) watch();
  else setStatus("a bearer token is needed: paste one, or add ?token= to the address", true);
}

start();
