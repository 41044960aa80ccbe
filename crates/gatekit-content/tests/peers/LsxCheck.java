// Runs a QRadar DSM extension's regular expressions with Java's regex engine (the engine
// QRadar uses) over sample events.
//
// usage: java LsxCheck FORMAT SAMPLES LSX.xml PROPERTIES.xml
// Parses both XML documents (so they must be well-formed), then for every sample line
// prints one tab-separated row per extracted value:
//   LINE  lsx|prop  NAME  VALUE        (VALUE with \ \t \n \r escaped)
// LSX matchers of the same field are tried in `order`; the first match wins. Property
// expressions are used when their `format` attribute equals FORMAT.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

public final class LsxCheck {
    private record Rule(String kind, String name, int order, Pattern pattern, int group) {}

    private static Document parse(String path) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        return f.newDocumentBuilder().parse(Path.of(path).toFile());
    }

    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r");
    }

    public static void main(String[] args) throws Exception {
        String format = args[0];
        List<String> lines = Files.readAllLines(Path.of(args[1]), StandardCharsets.UTF_8);
        List<Rule> rules = new ArrayList<>();

        Document lsx = parse(args[2]);
        Map<String, Pattern> patterns = new HashMap<>();
        NodeList ps = lsx.getElementsByTagName("pattern");
        for (int i = 0; i < ps.getLength(); i++) {
            Element p = (Element) ps.item(i);
            int flags = "true".equals(p.getAttribute("case-insensitive")) ? Pattern.CASE_INSENSITIVE : 0;
            if (patterns.put(p.getAttribute("id"), Pattern.compile(p.getTextContent(), flags)) != null) {
                throw new IllegalStateException("duplicate pattern id " + p.getAttribute("id"));
            }
        }
        NodeList ms = lsx.getElementsByTagName("matcher");
        for (int i = 0; i < ms.getLength(); i++) {
            Element m = (Element) ms.item(i);
            Pattern p = patterns.get(m.getAttribute("pattern-id"));
            if (p == null) {
                throw new IllegalStateException("unknown pattern-id " + m.getAttribute("pattern-id"));
            }
            String group = m.getAttribute("capture-group");
            rules.add(new Rule("lsx", m.getAttribute("field"), Integer.parseInt(m.getAttribute("order")),
                    p, group.isEmpty() ? 0 : Integer.parseInt(group)));
        }
        NodeList singles = lsx.getElementsByTagName("event-match-single");
        for (int i = 0; i < singles.getLength(); i++) {
            Element e = (Element) singles.item(i);
            int sev = Integer.parseInt(e.getAttribute("severity"));
            if (sev < 1 || sev > 10 || e.getAttribute("event-name").isEmpty()) {
                throw new IllegalStateException("bad event-match-single " + e.getAttribute("event-name"));
            }
        }

        Document props = parse(args[3]);
        NodeList pr = props.getElementsByTagName("property");
        for (int i = 0; i < pr.getLength(); i++) {
            Element p = (Element) pr.item(i);
            NodeList ex = p.getElementsByTagName("expression");
            for (int j = 0; j < ex.getLength(); j++) {
                Element e = (Element) ex.item(j);
                if (e.getAttribute("format").equals(format)) {
                    rules.add(new Rule("prop", p.getAttribute("name"), 1, Pattern.compile(e.getTextContent()),
                            Integer.parseInt(e.getAttribute("capture-group"))));
                }
            }
        }

        StringBuilder out = new StringBuilder();
        for (int n = 0; n < lines.size(); n++) {
            String line = lines.get(n);
            if (line.isEmpty()) {
                continue;
            }
            Map<String, String> found = new TreeMap<>();
            Map<String, Integer> foundOrder = new HashMap<>();
            for (Rule r : rules) {
                String key = r.kind() + "\t" + r.name();
                Integer prev = foundOrder.get(key);
                if (prev != null && prev <= r.order()) {
                    continue;
                }
                Matcher m = r.pattern().matcher(line);
                if (m.find() && m.group(r.group()) != null) {
                    found.put(key, m.group(r.group()));
                    foundOrder.put(key, r.order());
                }
            }
            for (Map.Entry<String, String> e : found.entrySet()) {
                out.append(n + 1).append('\t').append(e.getKey()).append('\t').append(escape(e.getValue())).append('\n');
            }
        }
        System.out.print(out);
    }
}
