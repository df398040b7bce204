// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memtrace's flame graph: reads the JSON in #mt-data (its layout is
 * described at the top of user/output/out_html.c) and draws the call tree
 * of one process's outstanding bytes as SVG. Flame (root at the bottom)
 * or icicle (root at the top); click a frame to zoom into it, click the
 * root or "reset zoom" to zoom out; a search (a regular expression over
 * function, file and module) highlights the frames it matches and shows
 * the bytes below them; a tooltip has bytes, count, file:line and module.
 * Below the graph, the sites (the frames allocations end in) by bytes.
 *
 * Every name comes from the traced program: it reaches the page only as
 * a text node or an attribute value set through the DOM, never as markup.
 * Embedded into the page by the Makefile (xxd); no library, no network.
 */
'use strict';
(function () {
	const SVGNS = 'http://www.w3.org/2000/svg';
	const ROW = 18; /* pixels per frame row */
	const MIN_PX = 0.5; /* frames narrower than this are not drawn */
	const MAX_SITES = 200; /* rows of the site table */
	const PY = 1,
		INLINED = 2;

	const t0 = performance.now();
	const data = JSON.parse(document.getElementById('mt-data').textContent);
	const $ = (id) => document.getElementById(id);
	const el = (tag, attrs, text) => {
		const e = tag.startsWith('svg:')
			? document.createElementNS(SVGNS, tag.slice(4))
			: document.createElement(tag);
		for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
		if (text !== undefined) e.textContent = text;
		return e;
	};

	let proc = null; /* the process shown: {info, root, frames, sites} */
	let zoom = null; /* the node zoomed into, or null */
	let re = null; /* the search, or null */

	function fmtBytes(b) {
		const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
		let i = 0,
			v = b;
		if (Math.abs(v) < 10240) return v + ' B';
		while (Math.abs(v) >= 1024 && i < u.length - 1) {
			v /= 1024;
			i++;
		}
		return v.toFixed(1) + ' ' + u[i];
	}

	function pct(a, b) {
		return b > 0 ? ((100 * a) / b).toFixed(2) + '%' : '-';
	}

	/* The frame table of P as objects with their display names. */
	function frameTable(p) {
		const s = p.strings,
			f = p.frames,
			out = [];
		let fn = -1;
		for (let i = 0; i + 3 < f.length; i += 4) {
			fn += f[i];
			const fr = {
				fn: s[fn] || '??',
				file: s[f[i + 1]] || '',
				line: f[i + 2],
				mod: s[f[i + 3] >> 2] || '',
				py: (f[i + 3] & PY) !== 0,
				inlined: (f[i + 3] & INLINED) !== 0,
			};
			fr.where = fr.file ? fr.file + (fr.line ? ':' + fr.line : '') : '';
			fr.label = fr.fn + (fr.where ? ' (' + base(fr.file) + (fr.line ? ':' + fr.line : '') + ')' : '');
			out.push(fr);
		}
		return out;
	}

	function base(path) {
		const i = path.lastIndexOf('/');
		return i < 0 ? path : path.slice(i + 1);
	}

	/* The pre-order node list of P as a tree with totals; children largest first. */
	function buildTree(p, frames) {
		const n = p.nodes;
		let i = 0,
			frame = -1;
		const sites = [];
		/* iterative pre-order: a stack of [node, children still to read] */
		const stack = [];
		const read = (parent) => {
			frame += n[i];
			const node = {
				frame: frame < 0 ? null : frames[frame],
				self: n[i + 2],
				selfCount: n[i + 3],
				children: [],
				parent: parent,
				depth: parent ? parent.depth + 1 : 0,
			};
			const kids = n[i + 1];
			i += 4;
			if (parent) parent.children.push(node);
			if (node.self > 0 && node.frame) sites.push(node);
			return [node, kids];
		};
		const [root, rootKids] = read(null);
		stack.push([root, rootKids]);
		while (stack.length && i < n.length) {
			const top = stack[stack.length - 1];
			if (top[1] === 0) {
				stack.pop();
				continue;
			}
			top[1]--;
			stack.push(read(top[0]));
		}
		/* totals bottom-up: a pre-order list reversed visits children first */
		const order = [];
		const walk = [root];
		while (walk.length) {
			const x = walk.pop();
			order.push(x);
			for (const c of x.children) walk.push(c);
		}
		let maxDepth = 0;
		for (let k = order.length - 1; k >= 0; k--) {
			const x = order[k];
			x.total = x.self;
			x.count = x.selfCount;
			for (const c of x.children) {
				x.total += c.total;
				x.count += c.count;
			}
			x.children.sort((a, b) => b.total - a.total);
			if (x.depth > maxDepth) maxDepth = x.depth;
		}
		sites.sort((a, b) => b.self - a.self);
		return { root: root, sites: sites, maxDepth: maxDepth };
	}

	function hash(s) {
		let h = 2166136261;
		for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
		return (h >>> 0) / 4294967296;
	}

	/* Native frames warm (red to yellow), Python frames cool (blue to green). */
	function color(fr) {
		const v = hash(fr.fn);
		const light = fr.inlined ? 72 : 60;
		if (fr.py) return 'hsl(' + Math.round(190 + 60 * v) + ',60%,' + light + '%)';
		return 'hsl(' + Math.round(10 + 40 * v) + ',80%,' + light + '%)';
	}

	function matches(fr) {
		return re !== null && fr !== null && (re.test(fr.fn) || re.test(fr.file) || re.test(fr.mod));
	}

	function tipText(node) {
		const total = proc.root.total;
		if (!node.frame) return 'all stacks\nbytes ' + total + ' (' + fmtBytes(total) + ')\ncount ' + node.count;
		const fr = node.frame;
		const lines = [fr.fn + (fr.py ? '  [Python]' : '') + (fr.inlined ? '  [inlined]' : '')];
		if (fr.where) lines.push(fr.where);
		if (fr.mod) lines.push('module ' + fr.mod);
		lines.push(
			'bytes ' + node.total + ' (' + fmtBytes(node.total) + ', ' + pct(node.total, total) + ')',
			'count ' + node.count
		);
		if (node.self > 0) lines.push('here: ' + node.self + ' B in ' + node.selfCount + ' allocations');
		return lines.join('\n');
	}

	function showTip(ev, node) {
		const t = $('mt-tip');
		t.textContent = tipText(node);
		t.style.display = 'block';
		const x = Math.min(ev.clientX + 12, window.innerWidth - t.offsetWidth - 4);
		const y = ev.clientY + 16 + t.offsetHeight > window.innerHeight ? ev.clientY - t.offsetHeight - 8 : ev.clientY + 16;
		t.style.left = Math.max(0, x) + 'px';
		t.style.top = Math.max(0, y) + 'px';
	}

	function hideTip() {
		$('mt-tip').style.display = 'none';
	}

	/* Draw proc's tree into #mt-graph: only frames at least MIN_PX wide. */
	function draw() {
		const g = $('mt-graph');
		const width = Math.max(400, g.clientWidth - 24);
		const icicle = $('mt-icicle').checked;
		const focus = zoom || proc.root;
		const rows = proc.maxDepth + 1;
		const height = rows * ROW + 4;
		const svg = el('svg:svg', { width: width, height: height, viewBox: '0 0 ' + width + ' ' + height });
		const total = focus.total || 1;
		const y = (depth) => (icicle ? depth * ROW : height - (depth + 1) * ROW);
		const box = (node, x, w) => {
			const fr = node.frame;
			const grp = el('svg:g');
			const hit = matches(fr);
			const rect = el('svg:rect', {
				x: x.toFixed(2),
				y: y(node.depth),
				width: Math.max(w - 0.5, 0.5).toFixed(2),
				height: ROW - 1,
				fill: hit ? '#d040d0' : fr ? color(fr) : '#c8c8d0',
				rx: 2,
			});
			grp.appendChild(el('svg:title', {}, fr ? fr.label + (fr.where ? ' ' + fr.where : '') + (fr.mod ? ' [' + fr.mod + ']' : '') + ' ' + node.total + ' B' : 'all ' + node.total + ' B'));
			grp.appendChild(rect);
			const chars = Math.floor((w - 6) / 6.6);
			if (chars >= 3) {
				const name = fr ? fr.label : 'all (' + fmtBytes(node.total) + ')';
				grp.appendChild(el('svg:text', { x: (x + 3).toFixed(2), y: y(node.depth) + ROW - 5 }, name.length > chars ? name.slice(0, chars - 1) + '\u2026' : name));
			}
			grp.addEventListener('click', () => {
				zoom = node === proc.root ? null : node;
				draw();
			});
			grp.addEventListener('mousemove', (ev) => showTip(ev, node));
			grp.addEventListener('mouseleave', hideTip);
			svg.appendChild(grp);
		};
		/* the focus's ancestors span the whole width, greyed by the zoom */
		for (let a = focus; a; a = a.parent) box(a, 0, width);
		const todo = [[focus, 0]];
		while (todo.length) {
			const [node, x0] = todo.pop();
			let x = x0;
			for (const c of node.children) {
				const w = (c.total / total) * width;
				if (w < MIN_PX) break; /* sorted: the rest are narrower */
				box(c, x, w);
				todo.push([c, x]);
				x += w;
			}
		}
		g.replaceChildren(svg);
		updateMatch();
	}

	/* Bytes under the frames the search matches, each stack counted once. */
	function updateMatch() {
		const m = $('mt-match');
		if (re === null) {
			m.textContent = '';
			return;
		}
		let bytes = 0;
		const walk = [proc.root];
		while (walk.length) {
			const x = walk.pop();
			if (matches(x.frame)) {
				bytes += x.total;
				continue;
			}
			for (const c of x.children) walk.push(c);
		}
		m.textContent = 'matched ' + fmtBytes(bytes) + ' (' + pct(bytes, proc.root.total) + ')';
	}

	function drawSites() {
		const s = $('mt-sites');
		const t = el('table');
		const head = el('tr');
		for (const h of ['bytes', 'count', 'function', 'file:line', 'module']) head.appendChild(el('th', {}, h));
		t.appendChild(head);
		for (const node of proc.sites.slice(0, MAX_SITES)) {
			const fr = node.frame;
			const tr = el('tr');
			tr.appendChild(el('td', { class: 'n' }, fmtBytes(node.self)));
			tr.appendChild(el('td', { class: 'n' }, String(node.selfCount)));
			tr.appendChild(el('td', {}, fr.fn + (fr.py ? ' [py]' : '')));
			tr.appendChild(el('td', {}, fr.where));
			tr.appendChild(el('td', {}, fr.mod));
			tr.addEventListener('click', () => {
				zoom = node.parent && node.parent !== proc.root ? node.parent : null;
				draw();
			});
			t.appendChild(tr);
		}
		const cap = el('p', {}, 'Sites by outstanding bytes' + (proc.sites.length > MAX_SITES ? ' (the first ' + MAX_SITES + ' of ' + proc.sites.length + ')' : '') + ':');
		s.replaceChildren(cap, t);
	}

	function show(i) {
		const p = data.processes[i];
		const frames = frameTable(p);
		const t = buildTree(p, frames);
		proc = { info: p, root: t.root, sites: t.sites, maxDepth: t.maxDepth };
		zoom = null;
		document.title = 'memtrace: ' + p.comm + ' (' + p.pid + ')';
		const when = new Date(p.time * 1000).toISOString().replace('T', ' ').slice(0, 19);
		$('mt-info').textContent = p.comm + ' pid ' + p.pid + ', report #' + p.seq + (p.final ? ' (final)' : '') + ' at ' + when + ': ' + fmtBytes(p.total_bytes) + ' in ' + p.total_count + ' allocations' + (p.note ? '; ' + p.note : '');
		draw();
		drawSites();
	}

	function init() {
		const sel = $('mt-proc');
		const procs = data.processes || [];
		if (!procs.length) {
			$('mt-info').textContent = 'no report';
			return;
		}
		let best = 0;
		procs.forEach((p, i) => {
			sel.appendChild(el('option', { value: i }, p.comm + ' (' + p.pid + '): ' + fmtBytes(p.total_bytes)));
			if (p.total_bytes > procs[best].total_bytes) best = i;
		});
		sel.hidden = procs.length < 2;
		sel.value = String(best);
		sel.addEventListener('change', () => show(Number(sel.value)));
		$('mt-icicle').addEventListener('change', draw);
		$('mt-reset').addEventListener('click', () => {
			zoom = null;
			draw();
		});
		$('mt-search').addEventListener('input', (ev) => {
			const v = ev.target.value;
			try {
				re = v ? new RegExp(v, 'i') : null;
			} catch (e) {
				re = new RegExp(v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
			}
			draw();
		});
		let pending = 0;
		window.addEventListener('resize', () => {
			clearTimeout(pending);
			pending = setTimeout(draw, 100);
		});
		show(best);
	}

	init();
	/* the time from the script's start to the first picture (tests and benchmarks read it) */
	document.body.setAttribute('data-render-ms', (performance.now() - t0).toFixed(1));
})();
