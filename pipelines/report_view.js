// The report's 3D view (report_parts.scene_view): sparse points, camera frusta and body
// trajectories in WebGL 1, nothing fetched. Drag orbits around the scene's centre, shift-drag
// pans, the wheel zooms, a click on a camera shows its image and numbers beside the canvas.
(function () {
  "use strict";
  const canvas = document.getElementById("view3d");
  const info = document.getElementById("view3d-info");
  const data = JSON.parse(document.getElementById("view3d-data").textContent);
  const gl = canvas.getContext("webgl", {preserveDrawingBuffer: true, antialias: true});
  if (!gl) {
    info.textContent = "WebGL is not available in this browser: no 3D view.";
    return;
  }

  // --- small vector and matrix helpers (column-major 4x4) ---
  const sub = (a, b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
  const add = (a, b) => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
  const mul = (a, s) => [a[0] * s, a[1] * s, a[2] * s];
  const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                           a[0] * b[1] - a[1] * b[0]];
  const unit = (a) => mul(a, 1 / (Math.hypot(a[0], a[1], a[2]) || 1));

  function matmul(a, b) {
    const m = new Float32Array(16);
    for (let c = 0; c < 4; c++)
      for (let r = 0; r < 4; r++)
        for (let k = 0; k < 4; k++) m[c * 4 + r] += a[k * 4 + r] * b[c * 4 + k];
    return m;
  }

  function lookAt(eye, target, up) {
    const f = unit(sub(target, eye)), s = unit(cross(f, up)), u = cross(s, f);
    return new Float32Array([s[0], u[0], -f[0], 0, s[1], u[1], -f[1], 0, s[2], u[2], -f[2], 0,
                             -dot(s, eye), -dot(u, eye), dot(f, eye), 1]);
  }

  function perspective(fovy, aspect, near, far) {
    const f = 1 / Math.tan(fovy / 2);
    return new Float32Array([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) / (near - far), -1,
                             0, 0, 2 * far * near / (near - far), 0]);
  }

  // --- GL program: positions and per-vertex byte colours ---
  function shader(type, source) {
    const s = gl.createShader(type);
    gl.shaderSource(s, source);
    gl.compileShader(s);
    return s;
  }
  const program = gl.createProgram();
  gl.attachShader(program, shader(gl.VERTEX_SHADER,
    "attribute vec3 pos; attribute vec3 col; uniform mat4 mvp; uniform float size;" +
    "varying vec3 c; void main() { gl_Position = mvp * vec4(pos, 1.0);" +
    "gl_PointSize = size; c = col; }"));
  gl.attachShader(program, shader(gl.FRAGMENT_SHADER,
    "precision mediump float; varying vec3 c; void main() { gl_FragColor = vec4(c, 1.0); }"));
  gl.linkProgram(program);
  gl.useProgram(program);
  const loc = {pos: gl.getAttribLocation(program, "pos"), col: gl.getAttribLocation(program, "col"),
               mvp: gl.getUniformLocation(program, "mvp"), size: gl.getUniformLocation(program, "size")};

  function buffer(positions, colours) {
    const make = (array) => {
      const b = gl.createBuffer();
      gl.bindBuffer(gl.ARRAY_BUFFER, b);
      gl.bufferData(gl.ARRAY_BUFFER, array, gl.STATIC_DRAW);
      return b;
    };
    return {pos: make(positions), col: make(colours), n: positions.length / 3};
  }

  function draw(buf, mode, size) {
    if (!buf.n) return;
    gl.bindBuffer(gl.ARRAY_BUFFER, buf.pos);
    gl.enableVertexAttribArray(loc.pos);
    gl.vertexAttribPointer(loc.pos, 3, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, buf.col);
    gl.enableVertexAttribArray(loc.col);
    gl.vertexAttribPointer(loc.col, 3, gl.UNSIGNED_BYTE, true, 0, 0);
    gl.uniform1f(loc.size, size);
    gl.drawArrays(mode, 0, buf.n);
  }

  function decode(b64, Type) {
    const bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Type(bytes.buffer);
  }

  // line segments of the frusta of `cams`, in one colour
  function frusta(cams, rgb) {
    const pos = [], col = [];
    for (const cam of cams) {
      const k = cam.corners;
      for (let i = 0; i < 4; i++) pos.push(...cam.center, ...k[i], ...k[i], ...k[(i + 1) % 4]);
    }
    for (let i = 0; i < pos.length / 3; i++) col.push(...rgb);
    return buffer(new Float32Array(pos), new Uint8Array(col));
  }

  function pathSegments(paths) {
    const pos = [], col = [];
    for (const p of paths)
      for (let i = 0; i + 1 < p.xyz.length; i++) {
        pos.push(...p.xyz[i], ...p.xyz[i + 1]);
        col.push(...p.rgb, ...p.rgb);
      }
    return buffer(new Float32Array(pos), new Uint8Array(col));
  }

  const points = buffer(decode(data.points.xyz, Float32Array), decode(data.points.rgb, Uint8Array));
  const cameraLines = frusta(data.cameras, [230, 60, 50]);
  const paths = pathSegments(data.paths);
  const pathDots = buffer(new Float32Array(data.paths.flatMap((p) => p.xyz.flat())),
                          new Uint8Array(data.paths.flatMap((p) => p.xyz.flatMap(() => p.rgb))));
  let selected = -1, selectedLines = frusta([], [0, 0, 0]);

  // --- orbit camera around `target`, `up` the cameras' mean up direction ---
  const up = data.up;
  const e1 = unit(cross(up, Math.abs(up[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0])), e2 = cross(up, e1);
  const view = {target: data.target.slice(), dist: 3 * data.extent, yaw: 0, pitch: 0.5};
  if (data.cameras.length) {  // start on the side of the cameras
    const toward = sub(data.cameras[0].center, data.target);
    view.yaw = Math.atan2(dot(toward, e2), dot(toward, e1));
    view.dist = Math.max(view.dist, 2.6 * Math.hypot(...toward));
  }
  let mvp = null;

  function render() {
    const dir = add(mul(add(mul(e1, Math.cos(view.yaw)), mul(e2, Math.sin(view.yaw))),
                        Math.cos(view.pitch)), mul(up, Math.sin(view.pitch)));
    const eye = add(view.target, mul(dir, view.dist));
    mvp = matmul(perspective(0.8, canvas.width / canvas.height, view.dist / 1000, view.dist * 100),
                 lookAt(eye, view.target, up));
    gl.viewport(0, 0, canvas.width, canvas.height);
    gl.clearColor(0.13, 0.13, 0.15, 1);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    gl.enable(gl.DEPTH_TEST);
    gl.depthFunc(gl.LEQUAL);  // the selected frustum redraws a drawn one
    gl.uniformMatrix4fv(loc.mvp, false, mvp);
    draw(points, gl.POINTS, 2);
    draw(cameraLines, gl.LINES, 1);
    draw(paths, gl.LINES, 1);
    draw(pathDots, gl.POINTS, 6);
    draw(selectedLines, gl.LINES, 1);
  }

  // canvas pixel of a world point (CSS pixels from the canvas's top left), null behind the eye
  function project(p) {
    const v = [0, 1, 2, 3].map((r) => mvp[r] * p[0] + mvp[4 + r] * p[1] + mvp[8 + r] * p[2] + mvp[12 + r]);
    if (v[3] <= 0) return null;
    return [(v[0] / v[3] + 1) / 2 * canvas.clientWidth, (1 - v[1] / v[3]) / 2 * canvas.clientHeight];
  }

  function select(k) {
    selected = k;
    const cam = data.cameras[k];
    selectedLines = frusta([cam], [255, 220, 40]);
    info.textContent = "";
    const title = document.createElement("b");
    title.textContent = cam.name;
    info.appendChild(title);
    const source = document.getElementById(cam.image);
    if (source) {
      const img = document.createElement("img");
      img.src = source.src;
      img.alt = cam.name;
      info.appendChild(img);
    }
    const table = document.createElement("table");
    for (const [label, value] of Object.entries(cam.stats)) {
      const row = table.insertRow();
      row.insertCell().textContent = label;
      row.insertCell().textContent = value;
    }
    info.appendChild(table);
    render();
  }

  function pick(x, y) {
    let best = -1, bestDist = 15;
    data.cameras.forEach((cam, k) => {
      const p = project(cam.center);
      if (p && Math.hypot(p[0] - x, p[1] - y) < bestDist) {
        best = k;
        bestDist = Math.hypot(p[0] - x, p[1] - y);
      }
    });
    if (best >= 0) select(best);
  }

  // --- mouse: drag orbits (shift: pans), wheel zooms, a click without dragging picks ---
  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    drag = {x: e.clientX, y: e.clientY, moved: 0};
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    drag = {x: e.clientX, y: e.clientY, moved: drag.moved + Math.abs(dx) + Math.abs(dy)};
    if (e.shiftKey) {
      const dir = add(mul(e1, Math.cos(view.yaw)), mul(e2, Math.sin(view.yaw)));
      const side = unit(cross(up, dir));
      const s = view.dist / canvas.clientHeight;
      view.target = add(view.target, add(mul(side, -dx * s), mul(up, dy * s)));
    } else {
      view.yaw -= dx * 0.01;
      view.pitch = Math.max(-1.5, Math.min(1.5, view.pitch + dy * 0.01));
    }
    render();
  });
  canvas.addEventListener("pointerup", (e) => {
    if (drag && drag.moved < 4) {
      const r = canvas.getBoundingClientRect();
      pick(e.clientX - r.left, e.clientY - r.top);
    }
    drag = null;
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    view.dist *= Math.exp(e.deltaY * 0.001);
    render();
  }, {passive: false});

  render();
  // for tests and the console: a camera's canvas pixel, and selecting one
  window.mvdepthView = {cameraPixel: (k) => project(data.cameras[k].center), select: select,
                        selected: () => selected};
})();
