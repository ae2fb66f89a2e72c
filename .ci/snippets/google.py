from byok_client import genai

gemini = genai.Client(api_keys=["AIza-one...", "AIza-two..."])  # subclass of google.genai.Client; genai.types too
gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")
